"""The short load and fault campaign: bench/campaign.py's whole method, at a rate CI can afford.

Four ``run_node`` processes, each on its own PostgreSQL database (three on the server at
127.0.0.1:5432, the fourth on a private server this test starts with initdb/pg_ctl), take
mixed kiosk and mobile votes at 50 votes/s with a 10 s burst at 200 votes/s while the three
faults of the full campaign happen in turn: the next proposer is SIGKILLed and restarted,
one node is cut off from its peers and healed, and the fourth node's PostgreSQL server is
stopped (``pg_ctl stop -m fast``) and started. The checks are the campaign's own, with no
timing assertion: no block or vote the network ever reported as committed is lost, no
transaction is stored twice, the four chains are identical, every accepted vote is in
them and every node's tally equals the accepted votes. Latency and throughput are printed
(the JSON report), not asserted.

Runs only in the PostgreSQL pass (``DATABASE_URL=postgres://...``; CI runs the suite twice)
and skips when PostgreSQL is not reachable on 127.0.0.1:5432 or no private server can be
started (a fresh user machine has neither). The full 30-minute campaign:
``.venv/bin/python bench/campaign.py --report campaign.json`` (docs/campaign.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench._campaign import CampaignConfig, dumps, run_campaign
from bench._campaign_pg import SHARED_SERVER, private_server_possible, server_reachable

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]

SHORT = CampaignConfig(minutes=1.25, rate=50, burst_rate=200, burst_seconds=10, outage_s=5,
                       kill_at=0.12, partition_at=0.35, burst_at=0.55, db_restart_at=0.7,
                       resubmit_after_s=15, drain_timeout_s=180, catch_up_timeout_s=180)


def _skip_reason() -> str | None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        # CI runs the suite twice; the campaign belongs to the PostgreSQL pass only.
        return "runs in the PostgreSQL pass (DATABASE_URL=postgres://...)"
    if not server_reachable(SHARED_SERVER):
        return f"no PostgreSQL at {SHARED_SERVER}"
    return private_server_possible()


@pytest.mark.timeout(900)
def test_short_campaign_keeps_every_committed_vote_through_kill_partition_and_database_restart(
        django_db_blocker: Any) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # The campaign creates, migrates and initialises the nodes' own databases (not test databases).
    with django_db_blocker.unblock():
        report = run_campaign(SHORT, lambda message: print(message, flush=True))
    print(dumps(report))
    failed = {name: check for name, check in report["checks"].items() if not check["pass"]}
    assert not failed, f"campaign checks failed: {dumps(failed)}"
    results = report["results"]
    # The faults really happened, in full: three of them, each on its own node.
    assert [f["fault"] for f in results["faults"]] == ["node_killed", "node_partitioned", "database_restarted"]
    assert len({f["node"] for f in results["faults"]}) == 3
    # Both kinds of vote went through, and the campaign's accounting is not empty.
    assert results["votes_kiosk"] > 0 and results["votes_mobile"] > 0
    assert results["votes_accepted"] == results["votes_offered"]
