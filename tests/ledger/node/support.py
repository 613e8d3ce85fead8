"""Shared test helpers: signed election transactions, committed chains, free ports, node processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from ledger.core.block import Block, CommitCertificate, sign_vote
from ledger.core.consensus.sim_app import SimNetwork, key_for
from ledger.core.contracts.vote import MAX_MINT_BATCH, candidate_address
from ledger.core.crypto import PrivateKey
from ledger.core.machine import Ledger
from ledger.core.tx import Transaction, make_tx
from ledger.localnet import free_port_block  # noqa: F401  (the node and fault tests import it from here)

CANDIDATES = ("alice", "bob", "carol")
MANAGE = str(settings.BASE_DIR / "manage.py")


def election_setup(authority: PrivateKey, chain: str, voters: Sequence[PrivateKey], *,
                   election: str = "e1", station: str = "st1") -> list[Transaction]:
    """create, register, mint, open: admissible as one batch (the mempool applies them in order)."""
    def tx(type_: str, payload: dict[str, Any]) -> Transaction:
        return make_tx(authority, chain=chain, contract="vote", type=type_, payload=payload)

    addresses = [k.address for k in voters]
    return [
        tx("create", {"election": election, "title": "시장 선거", "opens_at": 0, "closes_at": 2**52,
                      "candidates": [{"id": c, "name": c.title()} for c in CANDIDATES]}),
        tx("register", {"election": election, "station": station, "voters": len(voters)}),
        *[tx("mint", {"election": election, "station": station, "tokens": addresses[start:start + MAX_MINT_BATCH]})
          for start in range(0, len(addresses), MAX_MINT_BATCH)],
        tx("open", {"election": election}),
    ]


def vote(voter: PrivateKey, chain: str, candidate: str, *, election: str = "e1", nonce: int = 0) -> Transaction:
    return make_tx(voter, chain=chain, contract="vote", type="transfer",
                   payload={"election": election, "to": candidate_address(election, candidate)}, nonce=nonce)


def voter_keys(count: int, label: str = "") -> list[PrivateKey]:
    return [key_for(f"test-voter-{label}-{i}") for i in range(count)]


def certify(network: SimNetwork, block: Block) -> CommitCertificate:
    votes = [sign_vote(network.keys[v.id], chain=network.genesis.chain, kind="precommit", height=block.height,
                       round=block.header.round, block=block.hash, validator=v.id)
             for v in network.genesis.validators]
    return CommitCertificate.from_votes(votes)


def build_chain(network: SimNetwork, batches: Sequence[Sequence[Transaction]]) -> tuple[Ledger, list[tuple[Block, CommitCertificate]]]:
    """Commit each batch as one block, with a certificate signed by every validator."""
    genesis = network.genesis
    ledger = Ledger(genesis)
    chain = []
    for txs in batches:
        height = ledger.height + 1
        result = ledger.build_block(txs, proposer=genesis.proposer_for(height, 0).id, round=0,
                                    time=genesis.time + height * 1000)
        if result.rejected:
            raise AssertionError(f"test chain has rejected txs: {[e.code for _, e in result.rejected]}")
        ledger.commit(result.pending)
        block = result.pending.block
        chain.append((block, certify(network, block)))
    return ledger, chain


# --- processes and ports ------------------------------------------------------------------------


def node_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=database_url, DJANGO_ENV="test", PYTHONUNBUFFERED="1", LOG_LEVEL="INFO")
    return env


def manage(*args: str, database_url: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = node_env(database_url) if database_url else {**os.environ, "DJANGO_ENV": "test"}
    return subprocess.run([sys.executable, MANAGE, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=settings.BASE_DIR, check=False)


def start_node(home: Path, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    try:
        return subprocess.Popen([sys.executable, MANAGE, "run_node", "--home", str(home)], env=node_env(database_url),
                                stdout=handle, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)
    finally:
        handle.close()


def stop(process: subprocess.Popen[Any], timeout: float = 20) -> int:
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def http_json(url: str, *, data: bytes | None = None, method: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, urllib.error.URLError, ValueError):
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_ready(url: str, timeout: float = 30) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        status, body = http_json(url + "/v1/status", timeout=2)
        # Linked to a quorum too: a node cut off from it refuses submissions (503 node_isolated).
        linked = body.get("connected_power", 0) >= body.get("quorum_power", 0)
        return body if status == 200 and body.get("participating") and linked else None

    return wait_until(ready, timeout=timeout, what=f"{url} to be ready")
