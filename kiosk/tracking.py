"""Public vote tracking: ask every ledger node what it holds for a tracking code (a transaction id).

A voter (or anyone holding the code) checks that the vote is final on the ledger; asking
each municipal node separately, not just the one the kiosk used, shows that the nodes
agree. The report gives the status, block height and block hash per node, never the
candidate: the payload is public on the ledger, but this page does not help anyone read
a ballot over a voter's shoulder. Reused by the mobile API.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ledger.client import NodeClient
from ledger.config import get_ledger_settings
from ledger.errors import NodeRequestFailed, NodeUnavailable
from voting.errors import LedgerRejected, LedgerUnavailable
from voting.ledger_gateway import LedgerGateway, get_gateway

from .errors import TrackingCodeInvalid

TRACKING_CODE_RE = re.compile(r"^[0-9a-f]{64}\Z")
NODE_TIMEOUT_S = 3.0
COMMITTED, PENDING, REJECTED, UNKNOWN, UNREACHABLE = "committed", "pending", "rejected", "unknown", "unreachable"


@dataclass(frozen=True)
class NodeReport:
    """One node's answer (``unreachable`` when it did not answer in time)."""

    node: str
    status: str
    height: int | None = None
    block_hash: str | None = None
    code: str = ""


@dataclass(frozen=True)
class TrackingReport:
    tracking_code: str
    nodes: tuple[NodeReport, ...]

    @property
    def status(self) -> str:
        """recorded (final on at least one node: BFT commits are final), pending, rejected or unknown."""
        statuses = {n.status for n in self.nodes}
        for status, summary in ((COMMITTED, "recorded"), (PENDING, PENDING), (REJECTED, REJECTED)):
            if status in statuses:
                return summary
        return UNKNOWN

    @property
    def height(self) -> int | None:
        return next((n.height for n in self.nodes if n.status == COMMITTED), None)

    @property
    def block_hash(self) -> str | None:
        return next((n.block_hash for n in self.nodes if n.status == COMMITTED), None)

    @property
    def consistent(self) -> bool:
        """No two nodes that hold the vote put it in different blocks."""
        return len({(n.height, n.block_hash) for n in self.nodes if n.status == COMMITTED}) <= 1

    def as_dict(self) -> dict[str, object]:
        return {
            "tracking_code": self.tracking_code, "status": self.status, "height": self.height,
            "block_hash": self.block_hash, "consistent": self.consistent,
            "nodes": [n.__dict__ for n in self.nodes],
        }


def validate_tracking_code(text: str) -> str:
    code = (text or "").strip().lower().replace(" ", "").replace("-", "")
    if not TRACKING_CODE_RE.match(code):
        raise TrackingCodeInvalid()
    return code


def get_node_urls(gateway: LedgerGateway) -> tuple[str, ...]:
    """The nodes the web app is configured with (the gateway's NodeClient; settings LEDGER["NODE_URLS"])."""
    client = getattr(gateway.transport, "client", None)
    return tuple(getattr(client, "urls", ()) or ())


def get_configured_urls(gateway: LedgerGateway | None) -> tuple[str, ...]:
    """The gateway's node URLs, or the settings' when this web server has no gateway (no authority key)."""
    try:
        return get_node_urls(gateway or get_gateway())
    except LedgerUnavailable:
        return get_ledger_settings().node_urls


def ask_node(url: str, tx_id: str) -> NodeReport:
    try:
        status = NodeClient([url], timeout_s=NODE_TIMEOUT_S).get_tx(tx_id)
    except (NodeUnavailable, NodeRequestFailed):
        return NodeReport(url, UNREACHABLE)
    return NodeReport(url, status.status, status.height, status.block_hash, status.code)


def ask_gateway(gateway: LedgerGateway, tx_id: str) -> NodeReport:
    """For a gateway without node URLs (an in-process ledger in tests, the demo's embedded ledger)."""
    try:
        info = gateway.tx_status(tx_id)
    except (LedgerUnavailable, LedgerRejected):
        return NodeReport("ledger", UNREACHABLE)
    return NodeReport("ledger", info.status, info.height, info.block_hash, info.code)


def track_transaction(
    tx_id: str, *, gateway: LedgerGateway | None = None, node_urls: Sequence[str] | None = None
) -> TrackingReport:
    """Every configured node's view of ``tx_id`` (asked in parallel); raise TrackingCodeInvalid for a bad code."""
    code = validate_tracking_code(tx_id)
    urls = tuple(node_urls) if node_urls is not None else get_configured_urls(gateway)
    if not urls:
        return TrackingReport(code, (ask_gateway(gateway or get_gateway(), code),))
    with ThreadPoolExecutor(max_workers=min(16, len(urls))) as pool:
        reports = tuple(pool.map(lambda url: ask_node(url, code), urls))
    return TrackingReport(code, reports)
