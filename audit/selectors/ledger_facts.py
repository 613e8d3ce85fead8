"""What the ledger says, read over the network: every node's head, and the election's state on chain.

Nothing here touches the web app's database, so it runs in a worker thread while the
event loop keeps serving. The node comparison reuses ``ledger.selectors`` (the same
logic as the public node status page); the contract state is read through the voting
gateway's transport, which fails over between nodes.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.client import NodeClient
from ledger.errors import NodeRequestFailed, NodeUnavailable
from ledger.core.contracts import contract_source_sha256, registered_ids
from ledger.network import DOWN
from ledger.selectors import get_named_network_overview
from voting.errors import VotingError

logger = logging.getLogger(__name__)
VOTE, SYSTEM = "vote", "system"


@dataclass
class NodeFacts:
    """The nodes side by side (rows as in ``ledger.selectors.get_named_network_overview``, as plain data)."""

    rows: list[dict[str, Any]]
    common_height: int | None
    max_height: int | None
    majority_hash: str = ""

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """What changes when any node commits a block, forks, goes down or comes back."""
        return tuple((r["url"], r["state"], r["height"], r["head_hash"]) for r in self.rows)


@dataclass
class ChainFacts:
    """The election as the contract state holds it; ``error`` says why a part could not be read."""

    record: dict[str, Any] | None = None
    tally: dict[str, Any] | None = None
    recount: dict[str, int] | None = None  # candidate id -> transfers found in the blocks
    evidence: list[dict[str, Any]] = field(default_factory=list)
    pins: dict[str, str] | None = None
    local_hashes: dict[str, str] = field(default_factory=dict)
    error: str = ""


def get_node_client() -> NodeClient:
    """The configured nodes (``LEDGER["NODE_URLS"]``), every one asked directly, not only the preferred one."""
    return NodeClient.from_settings()


class _KnownStatuses:
    """A node client whose ``statuses()`` answers what was already fetched (so one poll serves both uses)."""

    def __init__(self, client: Any, statuses: dict[str, Any]) -> None:
        self._client = client
        self._statuses = statuses

    def statuses(self) -> dict[str, Any]:
        return dict(self._statuses)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def fetch_statuses(client: Any) -> dict[str, Any]:
    """Every configured node's ``/v1/status``, in parallel; a node that fails or answers nonsense is down.

    ``NodeClient.statuses`` already returns transport failures; a node that answers with
    something other than a JSON object (a misconfigured URL, a hostile node) must not break
    the dashboard either, so it is reported as unreachable with the reason.
    """
    def one(url: str) -> Any:
        try:
            status = client.status(url)
        except NodeRequestFailed as exc:
            if exc.code == "not_json":  # NodeClient's code for a body that is not JSON
                return NodeUnavailable(detail={"nodes": {url: f"invalid answer: {exc.message}"}})
            return exc
        except NodeUnavailable as exc:
            return exc
        if not isinstance(status, dict) or not isinstance(status.get("height", 0), int):
            return NodeUnavailable(detail={"nodes": {url: "invalid answer: not a status object"}})
        return status

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(client.urls)))) as pool:
        return dict(zip(client.urls, pool.map(one, client.urls)))


def get_node_facts(client: Any, statuses: dict[str, Any] | None = None) -> NodeFacts:
    """Every node's height, head, last commit, peers and state (ok, behind, diverged, down)."""
    source = _KnownStatuses(client, fetch_statuses(client) if statuses is None else statuses)
    overview, rows = get_named_network_overview(source)
    plain = []
    for row in rows:
        node = row["node"]
        behind = None if node.height is None or overview.max_height is None else overview.max_height - node.height
        plain.append({
            "url": node.url, "node_id": row["node_id"], "name": row["name"], "state": node.state,
            "reachable": node.state != DOWN, "error": node.error, "height": node.height, "head_hash": node.head_hash,
            "hash_at_common": node.hash_at_common,
            "last_commit": node.last_commit.isoformat() if node.last_commit else None,
            "peers_connected": node.peers_connected, "peers_total": node.peers_total, "behind": behind,
        })
    return NodeFacts(plain, overview.common_height, overview.max_height, overview.majority_hash)


def get_local_contract_hashes() -> dict[str, str]:
    """SHA-256 of the source of every contract deployed with this web app (docs/protocol.md section 12)."""
    return {cid: contract_source_sha256(cid) for cid in registered_ids()}


# Recounts of closed elections: no transfer can be added after the close, so one pass is enough.
_closed_recounts: dict[tuple[str, str], dict[str, int]] = {}
_recount_lock = threading.Lock()


def compute_recount(record: dict[str, Any], transfers: Iterable[Any]) -> dict[str, int]:
    """Votes per candidate id, re-derived from the committed transfer transactions of the election."""
    by_address = {c["address"]: c["id"] for c in record.get("candidates") or []}
    counts = {cid: 0 for cid in by_address.values()}
    for tx in transfers:
        if tx.payload.get("election") != record.get("id"):
            continue
        marks = tx.payload.get("to")
        for address in marks if isinstance(marks, list) else [marks]:
            if address in by_address:
                counts[by_address[address]] += 1
    return counts


def _recount(transport: Any, record: dict[str, Any]) -> dict[str, int] | None:
    """The transfer recount, only once the election is closed on chain (then cached for the process)."""
    if record.get("status") != "closed":
        return None
    key = (str(transport.get_chain_id()), str(record["id"]))
    with _recount_lock:
        cached = _closed_recounts.get(key)
    if cached is None:
        cached = compute_recount(record, transport.iter_transactions(VOTE, "transfer"))
        with _recount_lock:
            _closed_recounts[key] = cached
    return dict(cached)


def get_chain_facts(ledger_id: str, *, on_ledger: bool, get_transport: Callable[[], Any]) -> ChainFacts:
    """The election record, tally, evidence and contract pins; a failure is recorded, never raised."""
    facts = ChainFacts(local_hashes=get_local_contract_hashes())
    try:
        transport = get_transport()
        facts.pins = dict(transport.query(SYSTEM, "contracts", {}))
        facts.evidence = list(transport.query(SYSTEM, "evidence", {}))
        if on_ledger:
            facts.record = dict(transport.query(VOTE, "election", {"election": ledger_id}))
            facts.tally = dict(transport.query(VOTE, "tally", {"election": ledger_id}))
            facts.recount = _recount(transport, facts.record)
    except VotingError as exc:
        facts.error = str(exc.detail.get("reason") or exc.code)
        logger.warning("observer: ledger read failed for %s: %s", ledger_id, facts.error)
    return facts
