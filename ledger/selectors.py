"""Reads of the stored chain: blocks with certificates (for peers and observers), head, txs.

Block entries are assembled from the stored canonical JSON by concatenation, never
re-serialised, so what a peer receives is byte for byte what this node verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.core.encoding import encode

from . import models
from .errors import BlockNotFound
from .network import NetworkOverview, get_network_overview

DEFAULT_DB = "default"
MAX_BLOCKS_PER_PAGE = 500
MAX_PAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoredHead:
    height: int
    hash: str | None
    time: int | None
    committed_at: datetime | None


def get_stored_head(*, using: str = DEFAULT_DB) -> StoredHead:
    row = models.Block.objects.using(using).order_by("-height").only("height", "hash", "time", "committed_at").first()
    if row is None:
        return StoredHead(0, None, None, None)
    return StoredHead(row.height, row.hash, row.time, row.committed_at)


def get_stored_genesis_text(*, using: str = DEFAULT_DB) -> str | None:
    row = models.NodeMeta.objects.using(using).filter(key=models.NodeMeta.GENESIS).first()
    return None if row is None else row.value


def render_block_entry(row: models.Block, tx_bodies: list[str]) -> bytes:
    """Canonical JSON ``{"block":{"header","txs"},"cert","committed_at","hash","height"}``."""
    committed_at = row.committed_at.isoformat().encode()
    return b"".join([
        b'{"block":{"header":', row.header.encode("utf-8"),
        b',"txs":[', ",".join(tx_bodies).encode("utf-8"), b"]}",
        b',"cert":', encode(row.certificate),
        b',"committed_at":"', committed_at, b'"',
        b',"hash":"', row.hash.encode(), b'"',
        b',"height":', str(row.height).encode(), b"}",
    ])


def get_block_entries(
    from_height: int, limit: int, *, max_bytes: int = MAX_PAGE_BYTES, using: str = DEFAULT_DB
) -> list[bytes]:
    """Up to ``limit`` consecutive blocks from ``from_height``, cut to about ``max_bytes``."""
    limit = max(1, min(limit, MAX_BLOCKS_PER_PAGE))
    rows = list(models.Block.objects.using(using).filter(height__gte=from_height).order_by("height")[:limit])
    if not rows:
        return []
    bodies: dict[int, list[str]] = {row.pk: [] for row in rows}
    for block_id, body in (
        models.Transaction.objects.using(using).filter(block_id__in=bodies).order_by("block_id", "index")
        .values_list("block_id", "body")
    ):
        bodies[block_id].append(body)
    entries: list[bytes] = []
    size = 0
    for row in rows:
        entry = render_block_entry(row, bodies[row.pk])
        if entries and size + len(entry) > max_bytes:
            break
        entries.append(entry)
        size += len(entry)
    return entries


def get_block_entry(height: int, *, using: str = DEFAULT_DB) -> bytes:
    row = models.Block.objects.using(using).filter(height=height).first()
    if row is None:
        raise BlockNotFound(detail={"height": height})
    bodies = list(row.transactions.using(using).order_by("index").values_list("body", flat=True))
    return render_block_entry(row, bodies)


@dataclass(frozen=True)
class StoredTx:
    tx_id: str
    height: int
    block_hash: str
    index: int


def get_stored_tx(tx_id: str, *, using: str = DEFAULT_DB) -> StoredTx | None:
    row = (
        models.Transaction.objects.using(using).filter(tx_id=tx_id)
        .values_list("block__height", "block__hash", "index").first()
    )
    if row is None:
        return None
    return StoredTx(tx_id, row[0], row[1], row[2])


# --- the network seen from the web app (status page, observers' dashboard) ----------------------


class StatusRecorder:
    """A node client that keeps the statuses the overview fetched, so each node is asked only once."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.statuses_seen: dict[str, Any] = {}

    def statuses(self) -> dict[str, Any]:
        self.statuses_seen = dict(self._client.statuses())
        return self.statuses_seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def get_node_names(statuses: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Validator names by node id (from the genesis in each status) and node ids by URL (from peers).

    A node that does not answer is still named: the nodes that do answer list it among
    their peers, with its URL.
    """
    names: dict[str, str] = {}
    ids_by_url: dict[str, str] = {}
    for url, status in statuses.items():
        if not isinstance(status, dict):
            continue
        for validator in status.get("validators") or []:
            if isinstance(validator, dict) and validator.get("id") and validator.get("name"):
                names.setdefault(str(validator["id"]), str(validator["name"]))
        if status.get("node_id"):
            ids_by_url[url.rstrip("/")] = str(status["node_id"])
        for peer_id, peer in (status.get("peers") or {}).items():
            if isinstance(peer, dict) and peer.get("url"):
                ids_by_url.setdefault(str(peer["url"]).rstrip("/"), str(peer_id))
    return names, ids_by_url


def get_named_network_overview(client: Any) -> tuple[NetworkOverview, list[dict[str, Any]]]:
    """Every configured node compared (``ledger.network``), each row with its node id and validator name.

    Rows are ``{"node": NodeView, "node_id", "name"}`` in the order of the configured URLs.
    """
    recorder = StatusRecorder(client)
    overview = get_network_overview(recorder)  # type: ignore[arg-type]
    names, ids_by_url = get_node_names(recorder.statuses_seen)
    rows = []
    for node in overview.nodes:
        node_id = node.node_id or ids_by_url.get(node.url.rstrip("/"), "")
        rows.append({"node": node, "node_id": node_id, "name": names.get(node_id, "")})
    return overview, rows
