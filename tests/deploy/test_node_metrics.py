"""A node's /metrics: strict Prometheus exposition with height, peers, mempool, commit latency and votes."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.client import NodeClient
from ledger.node.metrics import RATE_WINDOW_MS, NodeMetrics, RecentRate
from tests.ledger.node.conftest import Network, dump_logs, make_network, migrated_template
from tests.ledger.node.support import election_setup, vote, voter_keys, wait_ready, wait_until

REQUIRED = {
    "ledger_height": "gauge",
    "ledger_peers_connected": "gauge",
    "ledger_mempool_size": "gauge",
    "ledger_votes_per_second": "gauge",
    "ledger_votes_committed": "counter",  # the parser names counter families without "_total"
    "ledger_txs_committed": "counter",
    "ledger_commit_latency_seconds": "histogram",
}


def parse_metrics(text: str) -> dict[str, Any]:
    """Strictly parse an exposition (prometheus-client raises on any malformed line); family name -> family."""
    from prometheus_client.parser import text_string_to_metric_families

    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], family: str, sample_name: str | None = None) -> float:
    wanted = sample_name or family
    values = [s.value for s in families[family].samples if s.name == wanted]
    assert len(values) == 1, (wanted, values)
    return float(values[0])


def scrape(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.headers.get_content_type() == "text/plain"
        return parse_metrics(response.read().decode())


@given(st.lists(st.tuples(st.integers(0, 10 * RATE_WINDOW_MS), st.integers(0, 500)), max_size=40))
def test_recent_rate_counts_exactly_the_last_window(events: list[tuple[int, int]]) -> None:
    events.sort()
    rate = RecentRate()
    for at, count in events:
        rate.add(at, count)
    now = events[-1][0] if events else 0
    expected = sum(count for at, count in events if at > now - RATE_WINDOW_MS)
    assert rate.per_second(now) == pytest.approx(expected / (RATE_WINDOW_MS / 1000))
    assert rate.per_second(now + RATE_WINDOW_MS) == 0


def test_rendered_metrics_parse_strictly_and_count_votes() -> None:
    metrics = NodeMetrics()
    metrics.record_block(now_ms=10_000, txs=5, votes=3, latency_s=0.3)
    metrics.record_block(now_ms=11_000, txs=2, votes=0, latency_s=12.0)
    families = parse_metrics(metrics.render(node="suwon", height=7, persisted_height=6, peers=3, mempool=4,
                                            round=1, frames_dropped=0, now_ms=12_000))
    assert {name: families[name].type for name in REQUIRED} == REQUIRED
    assert sample(families, "ledger_votes_committed", "ledger_votes_committed_total") == 3
    assert sample(families, "ledger_txs_committed", "ledger_txs_committed_total") == 7
    assert sample(families, "ledger_votes_per_second") == pytest.approx(3 / 60, abs=1e-3)
    assert (sample(families, "ledger_height"), sample(families, "ledger_peers_connected"),
            sample(families, "ledger_mempool_size")) == (7, 3, 4)
    assert sample(families, "ledger_commit_latency_seconds", "ledger_commit_latency_seconds_count") == 2
    inf = [s.value for s in families["ledger_commit_latency_seconds"].samples
           if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"]
    assert inf == [2]


@pytest.fixture(scope="module")
def metrics_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    network = make_network(tmp_path_factory.mktemp("metrics"), migrated_template(tmp_path_factory), 1)
    node = network.nodes[0]
    node.start()
    try:
        wait_ready(node.url)
        yield network
    finally:
        code = node.stop()
        assert code == 0, dump_logs(network)


@pytest.mark.network
@pytest.mark.e2e
def test_node_metrics_move_after_votes(metrics_node: Network) -> None:
    url = metrics_node.nodes[0].url
    client = NodeClient([url])
    voters = voter_keys(6, "metrics")
    setup = client.commit_many(election_setup(metrics_node.authority, metrics_node.chain, voters), timeout_s=20)
    assert {s.status for s in setup} == {"committed"}
    before = scrape(url)
    assert {name: before[name].type for name in REQUIRED} == REQUIRED
    assert sample(before, "ledger_votes_committed", "ledger_votes_committed_total") == 0
    votes = [vote(k, metrics_node.chain, ("alice", "bob")[i % 2]) for i, k in enumerate(voters)]
    assert {s.status for s in client.commit_many(votes, timeout_s=20)} == {"committed"}

    def stored_all() -> dict[str, Any] | None:
        after = scrape(url)
        done = sample(after, "ledger_votes_committed", "ledger_votes_committed_total") == len(votes)
        return after if done else None

    after = wait_until(stored_all, timeout=10, what="the vote counter")
    assert sample(after, "ledger_height") > sample(before, "ledger_height")
    assert (sample(after, "ledger_txs_committed", "ledger_txs_committed_total")
            == sample(before, "ledger_txs_committed", "ledger_txs_committed_total") + len(votes))
    assert sample(after, "ledger_votes_per_second") == pytest.approx(len(votes) / 60, abs=1e-3)
    assert sample(after, "ledger_mempool_size") == 0
    assert (sample(after, "ledger_commit_latency_seconds", "ledger_commit_latency_seconds_count")
            > sample(before, "ledger_commit_latency_seconds", "ledger_commit_latency_seconds_count"))
