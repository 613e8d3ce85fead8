"""Real municipal nodes as separate processes: the localnet command, agreement, verification."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ledger.client import NodeClient
from ledger.localnet import load_localnet
from ledger.node.config import read_private_key
from tests.ledger.node.support import (
    CANDIDATES,
    MANAGE,
    election_setup,
    free_port_block,
    manage,
    vote,
    voter_keys,
    wait_ready,
    wait_until,
)

pytestmark = [pytest.mark.network, pytest.mark.e2e]
LONG_RUNS = os.environ.get("LEDGER_LONG_TESTS", "") == "1"
long_run = pytest.mark.skipif(not LONG_RUNS, reason="long run: set LEDGER_LONG_TESTS=1")
POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def block_hashes(url: str) -> list[str]:
    return [entry["hash"] for entry in NodeClient([url], timeout_s=30).iter_blocks()]


def run_localnet(tmp_path: Path, nodes: int, *, template: str = "", votes: int = 40) -> None:
    directory = tmp_path / "net"
    base = free_port_block(nodes)
    args = [sys.executable, MANAGE, "localnet", "--nodes", str(nodes), "--dir", str(directory), "--base-port", str(base)]
    if template:
        args += ["--database-url-template", template]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DJANGO_ENV": "test"}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (directory / "localnet.json").exists(), timeout=60, what="localnet homes")
        localnet = load_localnet(directory)
        urls = [node.url for node in localnet.nodes]
        try:
            for url in urls:
                wait_ready(url, timeout=60 + nodes * 2)
            _vote_everywhere(localnet.chain, read_private_key(directory / "authority.pem"), urls, votes)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_problems(directory)}") from exc
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # stop gracefully first: the runner stops its node processes
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
    assert process.returncode == 0, output
    assert "all nodes stopped" in output
    databases = [line.split(" db ", 1)[1].strip() for line in output.splitlines() if " db " in line]
    assert len(databases) == nodes
    checks = [subprocess.Popen([sys.executable, MANAGE, "ledger_verify", "--no-progress"],
                               env=env | {"DATABASE_URL": url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True) for url in databases]
    for url, check in zip(databases, checks):
        out, _ = check.communicate(timeout=120)
        assert check.returncode == 0, f"{url}: {out}"
        assert f'"alice": {(votes + 2) // 3}' in out


def _problems(directory: Path) -> str:
    """Warnings and errors from every node log, for a failure message."""
    lines = []
    for log in sorted(directory.glob("*/node.log")):
        text = log.read_text(errors="replace").splitlines()
        lines += [f"{log.parent.name}: {line}" for line in text if " INFO " not in line and "ready at" not in line]
    return "\n".join(lines[-60:])


def _vote_everywhere(chain: str, authority, urls: list[str], count: int) -> None:  # type: ignore[no-untyped-def]
    voters = voter_keys(count, uuid.uuid4().hex)
    setup = NodeClient(urls[:1]).commit_many(election_setup(authority, chain, voters), timeout_s=60)
    assert {s.status for s in setup} == {"committed"}
    submitted = []
    for index, url in enumerate(urls):  # every node gets its share; gossip carries them to the proposer
        mine = [vote(voter, chain, CANDIDATES[i % 3]) for i, voter in enumerate(voters) if i % len(urls) == index]
        submitted += [(url, status) for status in NodeClient([url]).submit_many(mine)]
    assert {status.status for _, status in submitted} == {"pending"}
    for url, status in submitted:
        final = NodeClient([url]).wait(status.id or "", timeout_s=60)
        assert final.status == "committed", final
    top = max(NodeClient([url]).status()["height"] for url in urls)
    wait_until(lambda: all(NodeClient([u]).status()["persisted_height"] == top for u in urls), timeout=30,
               what="every node to store the head")
    reference = block_hashes(urls[0])
    assert len(reference) == top
    for url in urls[1:]:
        assert block_hashes(url) == reference
    tally = NodeClient(urls[-1:]).query("vote", "tally", {"election": "e1"})
    assert sum(tally["candidates"].values()) == count


def test_four_node_localnet_commits_votes_from_every_node(tmp_path: Path) -> None:
    run_localnet(tmp_path, 4)


@pytest.mark.skipif(not POSTGRES, reason="needs DATABASE_URL=postgres://... (the CI's PostgreSQL pass)")
def test_four_node_localnet_on_postgresql(tmp_path: Path) -> None:
    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    suffix = uuid.uuid4().hex[:8]
    template = f"{server}/evote_test_{suffix}_{{node}}"
    try:
        run_localnet(tmp_path, 4, template=template)
    finally:
        _drop_databases(server, f"evote_test_{suffix}_")


def _drop_databases(server: str, prefix: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                [prefix + "%"])]
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@long_run
@pytest.mark.slow
@pytest.mark.parametrize("nodes", [7, 31])
def test_larger_localnets_agree(tmp_path: Path, nodes: int) -> None:
    run_localnet(tmp_path, nodes, votes=300)


def test_ledger_keygen_writes_an_owner_only_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "authority.pem"
    result = manage("ledger_keygen", "--out", str(path))
    assert result.returncode == 0, result.stderr
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_private_key(path).address in result.stdout
    again = manage("ledger_keygen", "--out", str(path))
    assert again.returncode != 0 and "exists" in again.stderr
