"""Helpers of bench/network.py: a localnet of run_node processes, a chain extended offline,
and the load generator's HTTP primitives.

Needs Django set up (``django.setup()``) before use: databases are prepared and the offline
blocks written with the project's own services, exactly as a node would store them.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from django.conf import settings
from django.db import connections
from django.db import transaction as db_transaction

from ledger import services
from ledger.core.block import CommitCertificate, sign_vote
from ledger.core.contracts.vote import MAX_MINT_BATCH, candidate_address
from ledger.core.crypto import PrivateKey
from ledger.core.tx import Transaction, make_tx
from ledger.localnet import Localnet, create_localnet, free_port_block
from ledger.localnet_runner import (
    _add_alias,
    _remove_alias,
    database_url_for,
    prepare_databases,
    terminate_with_parent,
)
from ledger.node.config import load_node_config, read_private_key, write_node_config

Log = Callable[[str], None]
CANDIDATES = ("c1", "c2", "c3", "c4")
MANAGE = str(settings.BASE_DIR / "manage.py")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


def child_env(database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_ENV="development", DEBUG="false", PYTHONUNBUFFERED="1", LOG_LEVEL="INFO")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@dataclass
class BenchNet:
    """N nodes on loopback, each a ``manage.py run_node`` process with its own database."""

    localnet: Localnet
    database_urls: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path, nodes: int, template: str, consensus: dict[str, int]) -> BenchNet:
        localnet = create_localnet(directory, nodes=nodes, base_port=free_port_block(nodes), consensus=consensus)
        urls = {node.node_id: database_url_for(node, template) for node in localnet.nodes}
        prepare_databases(localnet, urls, log=log)
        return cls(localnet, urls)

    @property
    def ids(self) -> list[str]:
        return [n.node_id for n in self.localnet.nodes]

    def url(self, node_id: str) -> str:
        return next(n.url for n in self.localnet.nodes if n.node_id == node_id)

    def home(self, node_id: str) -> Path:
        return next(n.home for n in self.localnet.nodes if n.node_id == node_id)

    def set_proposal_max_txs(self, count: int) -> None:
        for node in self.localnet.nodes:
            write_node_config(dataclasses.replace(load_node_config(node.home), proposal_max_txs=count))

    def proposal_max_txs(self) -> int:
        return load_node_config(self.localnet.nodes[0].home).proposal_max_txs

    def start(self, node_id: str) -> None:
        with (self.home(node_id) / "node.log").open("ab") as output:
            self.processes[node_id] = subprocess.Popen(
                [sys.executable, MANAGE, "run_node", "--home", str(self.home(node_id))],
                env=child_env(self.database_urls[node_id]), cwd=settings.BASE_DIR, stdout=output,
                stderr=subprocess.STDOUT, preexec_fn=terminate_with_parent,  # noqa: PLW1509  (no threads yet)
            )

    def stop(self, node_id: str, timeout: float = 60) -> int:
        process = self.processes.pop(node_id, None)
        if process is None:
            return 0
        if process.poll() is None:
            process.terminate()
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop_all(self) -> None:
        for node_id in list(self.processes):
            self.stop(node_id)

    def alive(self, node_id: str) -> bool:
        process = self.processes.get(node_id)
        return process is not None and process.poll() is None

    def pid(self, node_id: str) -> int:
        return self.processes[node_id].pid


# --- votes and the election ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedVotes:
    keys: list[PrivateKey]
    raws: list[bytes]
    ids: list[str]


def sign_votes(chain: str, election: str, count: int, label: str) -> SignedVotes:
    """Token keys and their signed transfers (one vote per token), before any measurement."""
    keys = [PrivateKey.from_secret(_secret(f"{label}-{i}")) for i in range(count)]
    raws, ids = [], []
    for index, key in enumerate(keys):
        tx = make_tx(key, chain=chain, contract="vote", type="transfer",
                     payload={"election": election, "to": candidate_address(election, CANDIDATES[index % 4])})
        raws.append(tx.to_bytes())
        ids.append(tx.id_hex)
    return SignedVotes(keys, raws, ids)


def _secret(label: str) -> bytes:
    import hashlib

    return hashlib.sha256(b"evote-bench-key:" + label.encode()).digest()


def election_txs(authority: PrivateKey, chain: str, election: str, addresses: list[str]) -> list[Transaction]:
    def tx(kind: str, payload: dict[str, Any]) -> Transaction:
        return make_tx(authority, chain=chain, contract="vote", type=kind, payload=payload)

    return [
        tx("create", {"election": election, "title": "bench", "opens_at": 0, "closes_at": 2**52,
                      "candidates": [{"id": c, "name": c} for c in CANDIDATES]}),
        tx("register", {"election": election, "station": "s1", "voters": len(addresses)}),
        *[tx("mint", {"election": election, "station": "s1", "tokens": addresses[i:i + MAX_MINT_BATCH]})
          for i in range(0, len(addresses), MAX_MINT_BATCH)],
        tx("open", {"election": election}),
    ]


# --- a chain extended offline (for the catch-up measurement) -----------------------------------


def extend_chain_offline(net: BenchNet, targets: list[str], blocks: int, txs_per_block: int) -> int:
    """Append ``blocks`` blocks, each certified by every validator's precommit, to the (stopped)
    databases of ``targets``; returns the new head height.

    The blocks are what the network itself would have committed (same state machine, real
    votes, certificates signed with the validators' own keys), only produced without
    consensus round trips so that 10,000 of them take a minute, not an hour.
    """
    localnet, genesis = net.localnet, net.localnet.genesis
    aliases = [f"bench_{t}" for t in targets]
    for alias, node_id in zip(aliases, targets):
        _add_alias(alias, net.database_urls[node_id])
    try:
        ledger = services.load_ledger(genesis, using=aliases[0])
        keys = {v.id: read_private_key(net.home(v.id) / "node.pem") for v in genesis.validators}
        authority = read_private_key(localnet.authority_key_path)
        plan = _catchup_blocks(authority, genesis.chain, ledger.height, blocks, txs_per_block)
        log(f"offline: writing {blocks} blocks to {', '.join(targets)}")
        time_ms = ledger.head_time
        pending_rows: list[tuple[Any, CommitCertificate]] = []
        for index, txs in enumerate(plan):
            time_ms += 1
            height = ledger.height + 1
            result = ledger.build_block(txs, proposer=genesis.proposer_for(height, 0).id, round=0, time=time_ms,
                                        verified=frozenset((tx.id, tx.sig) for tx in txs))
            if result.rejected:
                raise RuntimeError(f"offline block {height} rejected {result.rejected[0][1].code}")
            block = result.pending.block
            votes = [sign_vote(keys[v.id], chain=genesis.chain, kind="precommit", height=height, round=0,
                               block=block.hash, validator=v.id) for v in genesis.validators]
            ledger.commit(result.pending)
            pending_rows.append((block, CommitCertificate.from_votes(votes)))
            if len(pending_rows) >= 500 or index == len(plan) - 1:
                for alias in aliases:
                    with db_transaction.atomic(using=alias):
                        for stored_block, cert in pending_rows:
                            services.persist_block(stored_block, cert, using=alias)
                pending_rows = []
                log(f"offline: {index + 1}/{blocks} blocks")
        while int(time.time() * 1000) <= time_ms:  # live blocks must come later than these
            time.sleep(0.05)
        return ledger.height
    finally:
        for alias in aliases:
            _remove_alias(alias)
        connections.close_all()


def _catchup_blocks(authority: PrivateKey, chain: str, height: int, blocks: int,
                    txs_per_block: int) -> list[list[Transaction]]:
    """Block contents: an election set up in the first blocks (create and register, mints 50 per
    block, open), then ``txs_per_block`` votes per block."""
    election = f"catchup-{height}"
    mints_per_block = 50
    setup_blocks = 3
    while True:
        voters = max(1, (blocks - setup_blocks) * txs_per_block)
        needed = 2 + -(-(-(-voters // MAX_MINT_BATCH)) // mints_per_block)
        if needed == setup_blocks:
            break
        setup_blocks = needed
    if blocks <= setup_blocks:
        raise ValueError(f"--catchup-blocks must be more than {setup_blocks}")
    votes = sign_votes(chain, election, voters, election)
    setup = election_txs(authority, chain, election, [k.address for k in votes.keys])
    mints = setup[2:-1]
    plan = [setup[:2]] + [mints[i:i + mints_per_block] for i in range(0, len(mints), mints_per_block)] + [setup[-1:]]
    transfers = [Transaction.from_bytes(raw) for raw in votes.raws]
    plan += [transfers[i:i + txs_per_block] for i in range(0, len(transfers), txs_per_block)]
    assert len(plan) == blocks, (len(plan), blocks)
    return plan


# --- HTTP --------------------------------------------------------------------------------------


async def get_json(session: aiohttp.ClientSession, url: str, timeout: float = 10) -> Any:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        return await response.json(content_type=None)


async def metric(session: aiohttp.ClientSession, url: str, name: str) -> float:
    async with session.get(url + "/metrics", timeout=aiohttp.ClientTimeout(total=10)) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


async def wait_ready(session: aiohttp.ClientSession, url: str, timeout: float = 600,
                     alive: Callable[[], bool] = lambda: True) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the node at {url} exited; see its node.log")
        try:
            status = await get_json(session, url + "/v1/status", 3)
            if status.get("participating"):
                return dict(status)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            pass
        await _sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
