"""A poll on a REAL ledger node for the live statistics tests: community tree, Django poll, ledger txs.

The poll is put on the ledger with the authority key through the production gateway
(communities.ledger), voters are fresh P-256 keys that sign their own ``cast`` as a browser does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from communities import ledger as poll_ledger
from communities.models import Community, Poll
from ledger.core.crypto import PrivateKey
from ledger.core.tx import Transaction, make_tx
from voting.ledger_gateway import LedgerGateway

from .tree_factory import build_province, make_superuser


@dataclass
class StatsWorld:
    nodes: dict[str, Community]
    poll: Poll
    voters: dict[str, list[PrivateKey]]  # unit id -> voter keys registered there

    def cast(self, gateway: LedgerGateway, key: PrivateKey, ballot: Any) -> Transaction:
        return make_tx(key, chain=gateway.chain_id, contract="poll", type="cast",
                       payload={"poll": self.poll.ledger_id, "ballot": ballot})


def make_stats_world(gateway: LedgerGateway, *, live_results: bool = True, per_unit: int = 2,
                     ledger_id: str = "") -> StatsWorld:
    """gyeonggi > suwon > jangan, gyeonggi > seongnam; a single-choice poll, ``per_unit`` voters at each leaf."""
    admin = make_superuser("stats-admin-" + (ledger_id or str(time.monotonic_ns())))
    nodes = build_province(admin) if not Community.objects.filter(slug="gyeonggi").exists() else {
        node.slug: node for node in Community.objects.all()}
    root = nodes["gyeonggi"]
    ledger_id = ledger_id or f"stats-{time.monotonic_ns()}"
    now = timezone.now()
    poll = Poll.objects.create(
        community=root, ledger_id=ledger_id, title="Park or library?", method="single", opens_at=now,
        closes_at=now + timezone.timedelta(days=1), live_results=live_results, status=Poll.Status.OPEN,
        status_changed_at=now, created_at=now)
    units = [{"id": node.unit_id, "parent": node.parent.unit_id if node.parent else None, "name": node.name}
             for node in nodes.values()]
    now_ms = int(time.time() * 1000)
    poll_ledger.create_poll(gateway, {
        "poll": ledger_id, "title": poll.title, "method": "single",
        "options": [{"id": "park", "name": "Park"}, {"id": "library", "name": "Library"}],
        "units": units, "opens_at": now_ms - 60_000, "closes_at": now_ms + 86_400_000, "weights": "equal"})
    voters = {nodes[slug].unit_id: [PrivateKey.generate() for _ in range(per_unit)] for slug in ("jangan", "seongnam")}
    poll_ledger.register_voters(gateway, ledger_id, [
        {"address": key.address, "unit": unit, "weight": 1} for unit, keys in voters.items() for key in keys])
    poll_ledger.set_poll_status(gateway, ledger_id, "open", reached={"open"})
    return StatsWorld(nodes, poll, voters)
