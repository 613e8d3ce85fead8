"""Each alarm the public node raises, provoked on purpose against stand-ins replaying the real chain.

Trust root (``genesis_mismatch``), a lying status head and a rewritten old block
(``node_diverged``, ``chain_rewritten``), a second block certified by the real validator
keys (a fork: the worst case), a late node (``node_behind``, a warning only), and the log
line and ``alarms.jsonl`` record an operator greps for.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.core.block import Block, BlockHeader, CommitCertificate, sign_vote
from ledger.core.encoding import encode
from ledger.core.genesis import Genesis
from ledger.node.config import DEFAULT_KEY_FILE, read_private_key
from publicnode.alarms import AlarmLog
from publicnode.client import NodeApi
from publicnode.follower import Follower
from publicnode.store import Store
from publicnode.trust import NoTrustRoot, establish_genesis
from tests.publicnode.conftest import FinishedChain
from tests.publicnode.replay import ReplayNode

pytestmark = [pytest.mark.network, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def nodes(finished: FinishedChain) -> Iterator[list[ReplayNode]]:
    started = [ReplayNode(name, finished.genesis, finished.status, finished.entries) for name in ("a", "b", "c")]
    try:
        yield started
    finally:
        for node in started:
            node.close()


def follower_for(directory: Path, nodes: list[ReplayNode], *, spot_checks: int = 0) -> Follower:
    store = Store(directory)
    alarms = AlarmLog(store.alarms_path)
    apis = [NodeApi(node.url) for node in nodes]
    return Follower(store, apis, establish_genesis(store, apis, alarms, None), alarms, spot_checks=spot_checks)


def other_genesis(genesis: bytes) -> bytes:
    value = json.loads(genesis)
    value["time"] += 1
    return encode(value)


def test_nodes_serving_different_genesis_documents_stop_the_public_node(
        nodes: list[ReplayNode], tmp_path: Path) -> None:
    nodes[2].genesis = other_genesis(nodes[2].genesis)
    store = Store(tmp_path / "pn")
    alarms = AlarmLog(store.alarms_path)
    with pytest.raises(NoTrustRoot) as raised:
        establish_genesis(store, [NodeApi(n.url) for n in nodes], alarms, None)
    assert raised.value.alarmed
    assert {a.code for a in alarms.raised} == {"genesis_mismatch"}
    assert not store.genesis_path.exists()  # nothing pinned from a disputed genesis
    result = subprocess.run([sys.executable, "-m", "publicnode", *[a for n in nodes for a in ("--node", n.url)],
                             "--data", str(tmp_path / "cli"), "--check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1 and "code=genesis_mismatch" in result.stderr


def test_a_node_on_another_genesis_than_the_trust_root_is_named(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    genesis_file = tmp_path / "genesis.json"
    genesis_file.write_bytes(finished.genesis + b"\n")
    nodes[1].status = dict(nodes[1].status, genesis_hash="0" * 64)
    result = subprocess.run([sys.executable, "-m", "publicnode", *[a for n in nodes for a in ("--node", n.url)],
                             "--data", str(tmp_path / "pn"), "--genesis", str(genesis_file), "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "code=genesis_mismatch node=b" in result.stderr
    records = [json.loads(line) for line in (tmp_path / "pn" / "alarms.jsonl").read_text().splitlines()]
    assert [(r["code"], r["node"], r["url"], r["severity"]) for r in records] == [
        ("genesis_mismatch", "b", nodes[1].url, "error")]
    assert (tmp_path / "pn" / "genesis.json").read_bytes() == finished.genesis


def test_a_status_head_that_names_another_block_is_divergence(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    nodes[2].status = dict(nodes[2].status, head_hash="ab" * 32)
    follower = follower_for(tmp_path / "pn", nodes)
    result = follower.run_round()
    assert [(a.code, a.node, a.height, a.location) for a in result.alarms] == [
        ("node_diverged", "c", finished.height, "status.head_hash")]
    assert follower.chain.height == finished.height
    checkpoint = follower.store.checkpoints()[-1]
    assert checkpoint["nodes_agreeing"] == ["a", "b"]


def test_a_node_that_rewrites_a_block_it_agreed_on_is_caught_by_spot_checks(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    follower = follower_for(tmp_path / "pn", nodes, spot_checks=finished.height)
    assert follower.run_round().alarms == []
    entry = json.loads(finished.entries[1])
    entry["block"]["txs"][0]["nonce"] += 1
    nodes[1].entries[1] = encode(entry)
    later = follower.run_round()
    assert [(a.code, a.node, a.height, a.location) for a in later.alarms] == [
        ("chain_rewritten", "b", 2, "block.txs[0].nonce")]
    assert follower.views[nodes[1].url].agreeing is False and follower.views[nodes[0].url].agreeing is True


def test_a_second_certified_block_at_a_height_is_reported_as_conflicting_commits(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    """What more than a third of the validators could do: certify two blocks at one height."""
    genesis = Genesis.from_bytes(finished.genesis)
    last = json.loads(finished.entries[-1])
    header = dataclasses.replace(BlockHeader.from_dict(last["block"]["header"]), time=last["block"]["header"]["time"] + 1)
    keys = {n.node_id: read_private_key(n.home / DEFAULT_KEY_FILE) for n in finished.network.nodes}
    votes = [sign_vote(keys[v.id], chain=genesis.chain, kind="precommit", height=header.height, round=0,
                       block=header.hash, validator=v.id) for v in genesis.validators]
    cert = CommitCertificate.from_votes(votes)
    block = Block(header, ())
    fork = dict(last, block={"header": header.to_dict(), "txs": last["block"]["txs"]}, cert=cert.to_dict(),
                hash=block.hash.hex())
    nodes[2].entries[-1] = encode(fork)
    follower = follower_for(tmp_path / "pn", nodes)
    result = follower.run_round()
    assert [(a.code, a.node, a.height, a.location) for a in result.alarms] == [
        ("node_diverged", "c", finished.height, "block.header.time")]
    alarm = result.alarms[0]
    assert alarm.detail["certified"] is True and "conflicting commits" in alarm.message
    assert alarm.block_hash == block.hash.hex() != follower.chain.head_hash.hex()


def test_a_late_node_is_a_warning_and_an_unreachable_one_too(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    late = finished.height - 3
    nodes[2].entries = nodes[2].entries[:late]
    nodes[2].status = dict(nodes[2].status, height=late, persisted_height=late,
                           head_hash=json.loads(finished.entries[late - 1])["hash"])
    follower = follower_for(tmp_path / "pn", nodes)
    follower.behind_blocks = 2
    nodes[1].close()
    result = follower.run_round()
    assert sorted((a.code, a.node, a.severity) for a in result.alarms) == [
        ("node_behind", "c", "warning"), ("node_unreachable", nodes[1].url, "warning")]
    assert not result.has_errors
    assert follower.chain.height == finished.height
    assert follower.crosschecked[nodes[2].url] == late  # what it has was compared, and agrees


def test_alarm_log_lines_and_records_name_node_height_and_field(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    entry = json.loads(finished.entries[2])
    entry["block"]["header"]["state_root"] = "0" * 64
    nodes[0].entries[2] = encode(entry)
    result = subprocess.run([sys.executable, "-m", "publicnode", *[a for n in nodes for a in ("--node", n.url)],
                             "--data", str(tmp_path / "pn"), "--check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1 and result.stdout.rstrip().endswith("ALARM")
    line = next(line for line in result.stderr.splitlines() if "ALARM" in line)
    assert "ALARM error code=invalid_block node=a height=3" in line
    assert "field=hash" in line and "location=block.header.state_root" in line
    record = json.loads((tmp_path / "pn" / "alarms.jsonl").read_text().splitlines()[0])
    assert (record["code"], record["node"], record["height"], record["location"]) == (
        "invalid_block", "a", 3, "block.header.state_root")
    # The honest nodes supplied the verified chain: the whole of it, nothing from the bad node.
    assert len((tmp_path / "pn" / "blocks.jsonl").read_bytes().splitlines()) == finished.height


def test_another_valid_certificate_is_agreement_and_one_below_quorum_is_not(
        finished: FinishedChain, nodes: list[ReplayNode], tmp_path: Path) -> None:
    """Each node stores the precommits it collected: certificates may differ, but each must reach a quorum."""
    entry = json.loads(finished.entries[1])
    sigs = entry["cert"]["sigs"]
    assert len(sigs) >= 3
    nodes[1].entries[1] = encode(dict(entry, cert=dict(entry["cert"], sigs=sigs[:3])))  # 3 of 4: a quorum
    nodes[2].entries[1] = encode(dict(entry, cert=dict(entry["cert"], sigs=sigs[:2])))  # 2 of 4: not enough
    follower = follower_for(tmp_path / "pn", nodes)
    result = follower.run_round()
    assert [(a.code, a.node, a.height, a.location, a.detail.get("needed")) for a in result.alarms] == [
        ("certificate_invalid", "c", 2, "cert", "3")]
    assert follower.crosschecked[nodes[1].url] == finished.height
    assert follower.crosschecked[nodes[2].url] == 1
