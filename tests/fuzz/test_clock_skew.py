"""One validator's clock is wrong; the network keeps committing and block times stay within the rule.

What the protocol promises about time (docs/protocol.md 9.2, ledger/core/consensus/engine.py):
block times strictly increase; a proposer stamps ``max(its clock, head time + 1)``; an honest
validator prevotes a proposal only if ``head time < time <= its clock + max_clock_drift_ms``
(10 s by default). So with at most f of 3f+1 clocks wrong, every committed block time is at most
``max_clock_drift_ms`` ahead of some honest clock at commit, and a proposer whose clock runs ahead
by more than that never gets its own block committed (its rounds time out and the next proposer
takes over). A clock that runs behind only makes that proposer's blocks carry ``head time + 1``:
block time can lag real time, never lead it beyond the drift.

Real processes (tests/ledger/faults/cluster.py), the skew injected with the node's test-only
``EVOTE_TEST_CLOCK_OFFSET_MS`` (honoured only in development and test runs). Each test starts
four nodes with the last one skewed one way, commits one vote per block through the honest
nodes (every validator's proposer slot comes up), then restarts it skewed the other way.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.client import NodeClient
from ledger.node.runtime import CLOCK_OFFSET_ENV
from tests.ledger.faults.cluster import ProcessNetwork, ProcessNode, build_network
from tests.ledger.node.support import election_setup, vote, voter_keys, wait_until

pytestmark = [pytest.mark.network, pytest.mark.e2e]
DRIFT_MS = 10_000  # the genesis default max_clock_drift_ms (make_localnet does not change it)
BLOCKS_PER_PHASE = 6  # more than one rotation of 4 proposers
SETTLE_SLACK_MS = 1_000  # storing is after committing: committed_at may trail the commit itself


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def start_skewed(node: ProcessNode, offset_ms: int) -> None:
    """Start ``node`` with its clock off by ``offset_ms`` (the variable is read from this process's env)."""
    os.environ[CLOCK_OFFSET_ENV] = str(offset_ms)
    try:
        node.start()
    finally:
        del os.environ[CLOCK_OFFSET_ENV]


def wait_linked(network: ProcessNetwork) -> None:
    wait_until(lambda: all(get_json(url + "/v1/status")["connected_power"] == 4 for url in network.urls),
               timeout=60, interval=0.25, what="every node linked to every peer")


def blocks_from(url: str, first: int) -> list[dict[str, Any]]:
    page = get_json(f"{url}/v1/blocks?from={first}&limit=100")
    return page["blocks"]  # type: ignore[no-any-return]


def committed_ms(entry: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(entry["committed_at"]).timestamp() * 1000)


@pytest.fixture
def network(tmp_path: Path) -> Iterator[ProcessNetwork]:
    network = build_network(tmp_path)
    try:
        yield network
    finally:
        codes = network.shutdown()
        assert set(codes.values()) == {0}, f"a node did not stop cleanly: {codes}\n{network.logs()}"


def run_phase(network: ProcessNetwork, voters: list[Any], skewed: ProcessNode, offset_ms: int) -> None:
    """Commit BLOCKS_PER_PHASE one-vote blocks; check every block time and who got to propose."""
    honest = [node for node in network.nodes if node is not skewed]
    client = NodeClient([node.url for node in honest], timeout_s=10)
    first = get_json(honest[0].url + "/v1/status")["persisted_height"] + 1
    for key in voters:
        result = client.commit_many([vote(key, network.chain, "alice")], timeout_s=60)
        assert result[0].status == "committed", (offset_ms, result, network.logs(30))
    top = get_json(honest[0].url + "/v1/status")["persisted_height"]
    wait_until(lambda: all(get_json(n.url + "/v1/status")["persisted_height"] >= top for n in network.nodes),
               timeout=60, what=f"every node, the skewed one too, to store height {top}")
    entries = blocks_from(honest[0].url, first)
    assert len(entries) >= BLOCKS_PER_PHASE
    assert [e["hash"] for e in blocks_from(skewed.url, first)][:len(entries)] == [e["hash"] for e in entries]
    previous = blocks_from(honest[0].url, first - 1)[0]["block"]["header"]["time"] if first > 1 else 0
    genesis = network.localnet.genesis
    own_slots = own_blocks = 0
    for entry in entries:
        header = entry["block"]["header"]
        assert header["time"] > previous, "block times must strictly increase"
        previous = header["time"]
        assert header["time"] <= committed_ms(entry) + DRIFT_MS + SETTLE_SLACK_MS, (offset_ms, header)
        own_slots += genesis.proposer_for(header["height"], 0).id == skewed.node_id
        own_blocks += header["proposer"] == skewed.node_id
    assert own_slots >= 1, "the skewed node was never the scheduled proposer: the phase proved nothing"
    if offset_ms > DRIFT_MS:
        assert own_blocks == 0, f"a block stamped {offset_ms} ms in the future was committed"
    else:
        assert own_blocks >= 1, f"a node {offset_ms} ms off, within the drift, should still get its blocks in"
    status = get_json(skewed.url + "/v1/status")
    assert status["participating"] and skewed.running


@pytest.mark.timeout(300)
@pytest.mark.parametrize("offsets_ms", [(4_000, -4_000), (180_000, -180_000)], ids=["seconds", "minutes"])
def test_network_commits_with_one_skewed_clock(network: ProcessNetwork, offsets_ms: tuple[int, int]) -> None:
    skewed = network.nodes[-1]
    for node in network.nodes[:-1]:
        node.start()
    start_skewed(skewed, offsets_ms[0])
    for node in network.nodes:
        network.wait_participating(node)
    wait_linked(network)
    voters = voter_keys(2 * BLOCKS_PER_PHASE, f"skew-{time.monotonic_ns()}")
    setup = NodeClient(network.urls[:-1]).commit_many(election_setup(network.authority, network.chain, voters),
                                                      timeout_s=60)
    assert {s.status for s in setup} == {"committed"}
    run_phase(network, voters[:BLOCKS_PER_PHASE], skewed, offsets_ms[0])
    assert skewed.terminate() == 0
    start_skewed(skewed, offsets_ms[1])
    network.wait_participating(skewed)
    wait_linked(network)
    run_phase(network, voters[BLOCKS_PER_PHASE:], skewed, offsets_ms[1])
    tallies = {n.node_id: NodeClient([n.url]).query("vote", "tally", {"election": "e1"})["candidates"]
               for n in network.nodes}
    assert all(t["alice"] == 2 * BLOCKS_PER_PHASE for t in tallies.values()), tallies
