"""A side-by-side view of every configured node, for operators and observers.

Nodes at different heights cannot be compared by head hash, so the overview compares the
block hash at the highest height every reachable node has (the common height): a node
whose hash there differs from the majority has diverged; a node below the highest height
is only behind.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .client import NodeClient
from .errors import NodeRequestFailed, NodeUnavailable

OK, BEHIND, DIVERGED, DOWN = "ok", "behind", "diverged", "down"


@dataclass
class NodeView:
    url: str
    state: str = DOWN
    error: str = ""
    node_id: str = ""
    chain: str = ""
    genesis_hash: str = ""
    height: int | None = None
    head_hash: str = ""
    hash_at_common: str = ""
    last_commit: datetime | None = None
    round: int | None = None
    step: str = ""
    mempool_size: int | None = None
    peers_connected: int | None = None
    peers_total: int | None = None


@dataclass
class NetworkOverview:
    nodes: list[NodeView]
    common_height: int | None
    max_height: int | None
    majority_hash: str = ""
    diverged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for node in data["nodes"]:
            node["last_commit"] = node["last_commit"].isoformat() if node["last_commit"] else None
        return data


def _view(url: str, status: Any) -> NodeView:
    if isinstance(status, (NodeUnavailable, NodeRequestFailed)):
        failures = status.detail.get("nodes", {})
        return NodeView(url, DOWN, error=str(failures.get(url, status.message)))
    wall = status.get("last_commit_wall")
    return NodeView(
        url, OK, node_id=status.get("node_id", ""), chain=status.get("chain", ""),
        genesis_hash=status.get("genesis_hash", ""), height=status.get("height"), head_hash=status.get("head_hash", ""),
        last_commit=datetime.fromtimestamp(wall / 1000, tz=UTC) if isinstance(wall, int) else None,
        round=status.get("round"), step=status.get("step") or "", mempool_size=status.get("mempool_size"),
        peers_connected=status.get("peers_connected"), peers_total=len(status.get("peers") or {}),
    )


def get_network_overview(client: NodeClient) -> NetworkOverview:
    views = [_view(url, status) for url, status in client.statuses().items()]
    up = [v for v in views if v.state != DOWN and isinstance(v.height, int)]
    if not up:
        return NetworkOverview(views, None, None)
    common = min(v.height for v in up if v.height is not None)
    top = max(v.height for v in up if v.height is not None)

    def hash_at_common(view: NodeView) -> str:
        if view.height == common or common == 0:
            return view.head_hash if common else view.genesis_hash
        try:
            return str(client.block(common, url=view.url)["hash"])
        except (NodeUnavailable, NodeRequestFailed, KeyError):
            return ""

    with ThreadPoolExecutor(max_workers=min(16, len(up))) as pool:
        for view, digest in zip(up, pool.map(hash_at_common, up)):
            view.hash_at_common = digest
    majority = Counter((v.genesis_hash, v.hash_at_common) for v in up).most_common(1)[0][0]
    overview = NetworkOverview(views, common, top, majority_hash=majority[1])
    for view in up:
        if (view.genesis_hash, view.hash_at_common) != majority:
            view.state = DIVERGED
            overview.diverged.append(view.node_id or view.url)
        elif view.height is not None and view.height < top:
            view.state = BEHIND
    return overview
