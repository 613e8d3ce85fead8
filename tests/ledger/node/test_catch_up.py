"""A node started late syncs the chain from its peers, verifies it and then takes part."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from ledger.client import NodeClient
from tests.ledger.node.conftest import dump_logs, make_network, migrated_template
from tests.ledger.node.support import (
    election_setup,
    manage,
    vote,
    voter_keys,
    wait_ready,
    wait_until,
)

pytestmark = [pytest.mark.network, pytest.mark.e2e]


def test_late_node_catches_up_verifies_and_participates(tmp_path: Path,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    network = make_network(tmp_path, migrated_template(tmp_path_factory), 4)
    early, late = network.nodes[:3], network.nodes[3]
    urls = [node.url for node in early]
    voters = voter_keys(24, "late")
    try:
        for node in early:  # three of four hold more than 2/3 of the power: the chain advances
            node.start()
        for node in early:
            wait_ready(node.url)
        client = NodeClient(urls)
        assert {s.status for s in client.commit_many(election_setup(network.authority, network.chain, voters),
                                                     timeout_s=30)} == {"committed"}
        first = [vote(k, network.chain, "alice") for k in voters[:12]]
        assert {s.status for s in client.commit_many(first, timeout_s=30)} == {"committed"}
        height = client.status()["height"]

        late.start()
        status = wait_ready(late.url)
        assert status["height"] >= height, "the late node joined before syncing"

        second = [vote(k, network.chain, "bob") for k in voters[12:]]
        results = NodeClient([late.url]).commit_many(second, timeout_s=30)  # submitted to the late node
        assert {s.status for s in results} == {"committed"}, dump_logs(network)
        all_urls = urls + [late.url]
        top = max(NodeClient([u]).status()["height"] for u in all_urls)
        wait_until(lambda: all(NodeClient([u]).status()["persisted_height"] == top for u in all_urls),
                   timeout=20, what="all nodes at the same height")
        hashes = {u: [b["hash"] for b in NodeClient([u]).iter_blocks()] for u in all_urls}
        assert len({tuple(h) for h in hashes.values()}) == 1
        tally = NodeClient([late.url]).query("vote", "tally", {"election": "e1"})
        assert tally["candidates"] == {"alice": 12, "bob": 12, "carol": 0}
    finally:
        codes = [node.stop() for node in network.nodes]
    assert codes == [0, 0, 0, 0], dump_logs(network)
    result = manage("ledger_verify", "--no-progress", database_url=late.database_url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_restarted_node_replays_its_database(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    network = make_network(tmp_path, migrated_template(tmp_path_factory), 1)
    node = network.nodes[0]
    voters = voter_keys(5, "restart")
    node.start()
    try:
        wait_ready(node.url)
        client = NodeClient([node.url])
        client.commit_many(election_setup(network.authority, network.chain, voters), timeout_s=20)
        client.commit_many([vote(k, network.chain, "carol") for k in voters], timeout_s=20)
        before = client.status()
        assert node.stop() == 0
        node.start()
        after = wait_ready(node.url)
        assert (after["height"], after["head_hash"]) == (before["height"], before["head_hash"])
        assert client.query("vote", "tally", {"election": "e1"})["candidates"]["carol"] == 5
    finally:
        node.stop()


def test_paused_node_catches_up_through_the_engine(tmp_path: Path,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """A node frozen (SIGSTOP) while the others commit a dozen blocks resumes and catches up."""
    network = make_network(tmp_path, migrated_template(tmp_path_factory), 4)
    urls = [node.url for node in network.nodes]
    paused = network.nodes[3]
    voters = voter_keys(13, "paused")
    try:
        for node in network.nodes:
            node.start()
        for url in urls:
            wait_ready(url)
        client = NodeClient(urls[:1])
        client.commit_many(election_setup(network.authority, network.chain, voters), timeout_s=30)
        assert paused.process is not None
        paused.process.send_signal(signal.SIGSTOP)
        for voter in voters[:12]:  # one block each
            assert client.commit_many([vote(voter, network.chain, "bob")], timeout_s=30)[0].status == "committed"
        paused.process.send_signal(signal.SIGCONT)
        client.commit_many([vote(voters[12], network.chain, "carol")], timeout_s=30)
        top = client.status()["height"]
        wait_until(lambda: NodeClient([paused.url]).status()["persisted_height"] >= top, timeout=30,
                   what="the paused node to catch up")
        reference = [b["hash"] for b in client.iter_blocks()]
        assert [b["hash"] for b in NodeClient([paused.url]).iter_blocks()][:len(reference)] == reference
    finally:
        if paused.process is not None and paused.process.poll() is None:
            paused.process.send_signal(signal.SIGCONT)
        codes = [node.stop() for node in network.nodes]
    assert codes == [0, 0, 0, 0], dump_logs(network)
