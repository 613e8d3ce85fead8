"""Following real node processes: verify, checkpoint, resume after a restart, ``--check`` exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from publicnode.alarms import AlarmLog
from publicnode.client import NodeApi
from publicnode.follower import Follower
from publicnode.store import Store
from publicnode.trust import establish_genesis
from tests.publicnode.conftest import FinishedChain, run_election

pytestmark = [pytest.mark.network, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parent.parent.parent


def open_follower(directory: Path, urls: list[str]) -> Follower:
    store = Store(directory)
    alarms = AlarmLog(store.alarms_path)
    apis = [NodeApi(url) for url in urls]
    return Follower(store, apis, establish_genesis(store, apis, alarms, None), alarms, seed=7)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "publicnode", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def node_args(urls: list[str]) -> list[str]:
    return [arg for url in urls for arg in ("--node", url)]


def test_follower_verifies_and_checkpoints_a_growing_chain(finished: FinishedChain, tmp_path: Path) -> None:
    follower = open_follower(tmp_path / "pn", finished.urls)
    first = follower.run_round()
    assert first.alarms == [] and first.reachable == 4
    assert follower.chain.height >= finished.height
    assert first.fetched == follower.chain.height
    checkpoints = follower.store.checkpoints()
    assert len(checkpoints) == 1
    head = checkpoints[0]
    assert head["height"] == follower.chain.height
    assert head["block_hash"] == follower.chain.head_hash.hex()
    assert sorted(head["nodes_agreeing"]) == sorted(n.node_id for n in finished.network.nodes)

    run_election(finished.network, "e-grow", 4)  # the chain grows by a few blocks
    grown = finished.network.wait_same_head(timeout=60)
    second = follower.run_round()
    assert second.alarms == []
    assert follower.chain.height == grown > head["height"]
    assert second.fetched == grown - head["height"]
    history = follower.store.checkpoints()
    assert [c["height"] for c in history] == [head["height"], grown]
    assert history[1]["state_root"] == follower.chain.state_roots[-1].hex()
    assert len(history[1]["nodes_agreeing"]) == 4


def test_restart_resumes_from_the_stored_chain(finished: FinishedChain, tmp_path: Path) -> None:
    directory = tmp_path / "pn"
    first = open_follower(directory, finished.urls)
    first.run_round()
    stored = first.chain.height
    again = open_follower(directory, finished.urls)
    assert again.chain.height == stored and again.chain.head_hash == first.chain.head_hash
    result = again.run_round()
    assert result.fetched == 0 and result.alarms == []
    assert len(again.store.checkpoints()) == 1  # nothing new verified: no new checkpoint


def test_a_store_changed_on_disk_is_refused_on_start(finished: FinishedChain, tmp_path: Path) -> None:
    directory = tmp_path / "pn"
    open_follower(directory, finished.urls).run_round()
    blocks = directory / "blocks.jsonl"
    data = bytearray(blocks.read_bytes())
    spot = data.index(b'"state_root":"') + len(b'"state_root":"')
    data[spot] = ord("0") if data[spot] != ord("0") else ord("1")
    blocks.write_bytes(bytes(data))
    result = run_cli(*node_args(finished.urls), "--data", str(directory), "--check")
    assert result.returncode == 1, result.stderr
    assert "code=local_store_invalid node=local height=1 field=hash" in result.stderr


def test_check_mode_exit_codes(finished: FinishedChain, tmp_path: Path) -> None:
    good = run_cli(*node_args(finished.urls), "--data", str(tmp_path / "a"), "--check")
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("height ") and good.stdout.rstrip().endswith("ok")
    lines = (tmp_path / "a" / "checkpoints.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["height"] >= finished.height

    # A dead node is a warning, not an alarm: still 0, and the log says which node.
    dead = "http://127.0.0.1:9"
    partly = run_cli(*node_args([*finished.urls, dead]), "--data", str(tmp_path / "a"), "--check")
    assert partly.returncode == 0, partly.stderr
    assert f"code=node_unreachable node={dead}" in partly.stderr

    nobody = run_cli("--node", dead, "--data", str(tmp_path / "b"), "--check")
    assert nobody.returncode == 2
    usage = run_cli("--data", str(tmp_path / "c"), "--check")
    assert usage.returncode == 2 and "--node" in usage.stderr

    # The trust root is pinned: another genesis for the same directory is refused.
    other = tmp_path / "other-genesis.json"
    other.write_bytes(finished.genesis.replace(b'"time":', b'"time":1', 1))
    pinned = run_cli(*node_args(finished.urls), "--data", str(tmp_path / "a"), "--genesis", str(other), "--check")
    assert pinned.returncode == 2 and "another genesis" in pinned.stderr
