"""The load and fault campaign (bench/campaign.py and tests/ledger/faults/test_campaign.py).

Four ``run_node`` processes on loopback (tests/ledger/faults/cluster.py), each on its own
PostgreSQL database: three on the shared server, the fourth on a private server started
for the run (bench/_campaign_pg.py) so its database can really be restarted. Peer links go
through the pair proxies (tests/ledger/faults/proxy.py) so a node can really be cut off.

The load is open loop: every ``tick_s`` the generator sends the votes that are due at the
current rate (``rate``, or ``burst_rate`` inside the burst window) to the four nodes in
turn, as pre-signed transactions in one ``POST /v1/txs`` per node and tick: the same node
HTTP API the web tier (kiosk and mobile views) relays votes to. Two kinds of vote:

* kiosk: the token was minted to polling station ``s1`` by the authority before the run
  (as printed cards are); the vote is the transfer signed by the token key;
* mobile: the voter's device redeems an RFC 9474 blind-signed credential
  (``mint_credential``, signed by the token key) and sends its transfer in the same batch.

A client that gets no answer, a 5xx or ``mempool_full`` tries another node; a vote admitted
but not seen in a block after ``resubmit_after_s`` is sent again to another node (a node
killed with votes in its mempool loses them; the client is what brings them back).

The campaign keeps its own accounting: every vote a node admitted is "accepted"; every
block any node served during the run is remembered (height, hash, its transactions). At
the end it checks that the network kept every block and every vote it ever reported as
committed, that no transaction is stored twice, that all four chains are identical, that
every accepted vote is in the chain and that each node's tally equals the accepted votes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import multiprocessing
import os
import platform
import random
import secrets
import shutil
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import aiohttp
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, PSS
from cryptography.hazmat.primitives.hashes import SHA384

from bench._campaign_pg import SHARED_SERVER, PrivateServer, wait_accepting
from ledger.client import NodeClient
from ledger.core import blindrsa
from ledger.core.contracts.vote import (
    CREDENTIAL_STATION,
    CREDENTIAL_VARIANT,
    MAX_MINT_BATCH,
    candidate_address,
    credential_message,
)
from ledger.core.crypto import PrivateKey
from ledger.core.tx import Transaction, make_tx

ELECTION = "campaign"
KIOSK_STATION = "s1"
CANDIDATES = ("c1", "c2", "c3", "c4")
ADMITTED = {"pending", "committed"}
RETRYABLE = {"mempool_full", "node_starting"}
POST_TIMEOUT_S = 5.0
Log = Callable[[str], None]


@dataclass(frozen=True)
class CampaignConfig:
    minutes: float = 30.0
    rate: float = 200.0  # votes/s offered outside the burst
    burst_rate: float = 1000.0  # votes/s offered inside the burst
    burst_seconds: float = 60.0
    mobile_share: float = 0.25  # share of the votes that are mobile (credential mint + transfer)
    outage_s: float = 20.0  # how long the killed node stays down, the partition lasts, the database is down
    kill_at: float = 0.15  # fault start times, as fractions of the load duration
    partition_at: float = 0.35
    burst_at: float = 0.55
    db_restart_at: float = 0.75
    tick_s: float = 0.1
    resubmit_after_s: float = 30.0
    drain_timeout_s: float = 600.0
    catch_up_timeout_s: float = 300.0
    seed: int = 20261123
    directory: str | None = None  # keep homes and logs here (default: a temporary directory, deleted)
    keep_databases: bool = False

    @property
    def duration_s(self) -> float:
        return self.minutes * 60

    def votes_needed(self) -> int:
        steady = self.rate * max(0.0, self.duration_s - self.burst_seconds)
        return int((steady + self.burst_rate * self.burst_seconds) * 1.02) + 100


# --- votes, signed before the load (signing is the voters' cost, not the network's) -------------


@dataclass
class Unit:
    """One voter's vote: one transfer (kiosk) or a credential mint and a transfer (mobile)."""

    kind: str
    candidate: str
    raws: list[bytes]
    vote_id: str  # the transfer's transaction id
    first_sent: float | None = None  # wall clock
    last_sent: float = 0.0  # monotonic
    admitted_at: float | None = None  # monotonic, first admission
    sends: int = 0
    retry_due: float | None = None
    rejected: str | None = None


_WORKER_KEY: Any = None


def _credential_signer(pem: bytes) -> Any:
    global _WORKER_KEY
    if _WORKER_KEY is None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        _WORKER_KEY = load_pem_private_key(pem, password=None)
    return _WORKER_KEY


def _prepare_chunk(task: tuple[str, str, int, int, float, bytes]) -> list[tuple[str, str, str, list[bytes], str]]:
    """(kind, address, candidate, raws, vote id) for votes start..start+count (a worker process)."""
    chain, label, start, count, mobile_share, pem = task
    signer = _credential_signer(pem)
    public = signer.public_key()
    out = []
    for index in range(start, start + count):
        key = PrivateKey.from_secret(hashlib.sha256(f"evote-campaign:{label}:{index}".encode()).digest())
        candidate = CANDIDATES[index % len(CANDIDATES)]
        transfer = make_tx(key, chain=chain, contract="vote", type="transfer",
                           payload={"election": ELECTION, "to": candidate_address(ELECTION, candidate)})
        mobile = (index * 7919 % 1000) < mobile_share * 1000  # spread evenly over the run
        raws = [transfer.to_bytes()]
        if mobile:
            # What the device ends up with after the RFC 9474 exchange (blind, blind-sign, unblind)
            # is an RSA-PSS signature over prefix || message; the issuing is the authority's and
            # the device's cost, not the network's, so the bench signs it directly (native
            # OpenSSL, ~1 ms, where the pure-Python blind signature takes ~10 ms).
            input_msg = blindrsa.prepare(CREDENTIAL_VARIANT, credential_message(chain, ELECTION, key.address))
            signature = signer.sign(input_msg, PSS(mgf=MGF1(SHA384()), salt_length=CREDENTIAL_VARIANT.salt_size),
                                    SHA384())
            blindrsa.verify(public, input_msg, signature, CREDENTIAL_VARIANT)
            credential = (input_msg[: blindrsa.PREFIX_SIZE] + signature).hex()
            mint = make_tx(key, chain=chain, contract="vote", type="mint_credential",
                           payload={"election": ELECTION, "station": CREDENTIAL_STATION, "address": key.address,
                                    "credential": credential})
            raws = [mint.to_bytes(), *raws]
        out.append(("mobile" if mobile else "kiosk", key.address, candidate, raws, transfer.id_hex))
    return out


def prepare_votes(chain: str, count: int, mobile_share: float, credential_pem: bytes, log: Log,
                  workers: int = 2) -> tuple[list[Unit], list[str]]:
    """Every vote of the run, and the kiosk token addresses the authority must mint."""
    label = secrets.token_hex(4)
    chunk = 2000
    tasks = [(chain, label, start, min(chunk, count - start), mobile_share, credential_pem)
             for start in range(0, count, chunk)]
    units: list[Unit] = []
    kiosk_addresses: list[str] = []
    # spawn, not fork: the caller already runs threads (the pair proxies).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for done, part in enumerate(pool.map(_prepare_chunk, tasks)):
            for kind, address, candidate, raws, vote_id in part:
                units.append(Unit(kind, candidate, raws, vote_id))
                if kind == "kiosk":
                    kiosk_addresses.append(address)
            if done % 20 == 19:
                log(f"signed {len(units)}/{count} votes")
    return units, kiosk_addresses


def election_txs(authority: PrivateKey, chain: str, credential_key_hex: str, kiosk: list[str],
                 mobile: int) -> list[Transaction]:
    def tx(kind: str, payload: dict[str, Any]) -> Transaction:
        return make_tx(authority, chain=chain, contract="vote", type=kind, payload=payload)

    return [
        tx("create", {"election": ELECTION, "title": "campaign", "opens_at": 0, "closes_at": 2**52,
                      "candidates": [{"id": c, "name": c} for c in CANDIDATES], "credential_key": credential_key_hex}),
        tx("register", {"election": ELECTION, "station": KIOSK_STATION, "voters": max(1, len(kiosk))}),
        tx("register", {"election": ELECTION, "station": CREDENTIAL_STATION, "voters": max(1, mobile)}),
        *[tx("mint", {"election": ELECTION, "station": KIOSK_STATION, "tokens": kiosk[i:i + MAX_MINT_BATCH]})
          for i in range(0, len(kiosk), MAX_MINT_BATCH)],
        tx("open", {"election": ELECTION}),
    ]


def _backoff(sends: int) -> float:
    """Seconds before a refused or unanswered vote is sent again: 1, 2, 4 ... 30, with jitter."""
    return min(30.0, 2.0 ** max(0, sends - 1)) * random.uniform(0.75, 1.25)


# --- the run -----------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "platform": platform.platform(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


@dataclass
class Served:
    """What the network reported as committed: every block any node served during the run."""

    by_node: dict[str, dict[int, str]] = field(default_factory=dict)  # node -> height -> hash
    txs_of: dict[str, list[str]] = field(default_factory=dict)  # block hash -> tx ids
    first_commit: dict[str, float] = field(default_factory=dict)  # block hash -> earliest committed_at
    confirmed: dict[str, tuple[int, str]] = field(default_factory=dict)  # tx id -> (height, hash) first seen
    conflicts: list[tuple[str, int, str, str]] = field(default_factory=list)  # a node changed a served block


class Campaign:
    def __init__(self, config: CampaignConfig, log: Log) -> None:
        self.config = config
        self.log = log
        self.rng = random.Random(config.seed)
        self.units: list[Unit] = []
        self.by_vote: dict[str, Unit] = {}
        self.served = Served()
        self.faults: list[dict[str, Any]] = []
        self.unexpected_exits: list[dict[str, Any]] = []
        self.rejections: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.outstanding: set[int] = set()
        self.samples: list[dict[str, Any]] = []
        self.stop_load = False
        self.stop_follow = False
        self.load_started = 0.0  # monotonic
        self.load_started_wall = 0.0
        self.expected_down: set[str] = set()  # nodes the schedule stopped on purpose
        self.phases: dict[str, tuple[float, float]] = {}  # name -> wall-clock window
        self._inflight: set[asyncio.Task[None]] = set()
        self.sent_count = 0
        self.sign_s = 0.0

    # --- set-up ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from ledger.localnet_runner import _drop, prepare_databases
        from tests.ledger.faults.cluster import build_network

        config = self.config
        started = time.monotonic()
        directory = Path(config.directory) if config.directory else Path(tempfile.mkdtemp(prefix="campaign-"))
        directory.mkdir(parents=True, exist_ok=True)
        server = PrivateServer()
        shared_urls: list[str] = []
        report: dict[str, Any] = {"config": {**dataclasses.asdict(config), **machine(), "dir": str(directory),
                                             "private_postgres_port": server.port}}
        network = None
        try:
            self.log(f"starting a private PostgreSQL server on port {server.port}")
            server.init()
            token = secrets.token_hex(3)

            def prepare(localnet: Any) -> dict[str, str]:
                nodes = localnet.nodes
                urls = {n.node_id: f"{SHARED_SERVER}/campaign_{token}_{n.node_id.replace('-', '_')}" for n in nodes[:-1]}
                urls[nodes[-1].node_id] = f"{server.url}/campaign_{token}_{nodes[-1].node_id.replace('-', '_')}"
                shared_urls.extend(urls[n.node_id] for n in nodes[:-1])
                # prepare_databases' template (left behind when the run is interrupted mid-migration)
                shared_urls.append(urls[nodes[0].node_id] + "_template")
                groups = [dataclasses.replace(localnet, nodes=nodes[:-1]), dataclasses.replace(localnet, nodes=nodes[-1:])]
                with ThreadPoolExecutor(2) as pool:  # two servers: migrate both templates at once
                    for done in [pool.submit(prepare_databases, group, urls, log=self.log) for group in groups]:
                        done.result()
                return urls

            network = build_network(directory / "net", 4, prepare=prepare)
            report["config"]["databases"] = {n.node_id: n.database_url.split("@", 1)[1] for n in network.nodes}
            self.network = network
            self.server = server
            network.start_all()
            self.log("4 nodes participating")
            setup_started = time.monotonic()
            self._setup_election()
            report["config"]["setup_s"] = round(time.monotonic() - setup_started, 1)
            asyncio.run(self._main())
            report.update(self._finish())
        finally:
            if network is not None:
                report.setdefault("results", {})["exit_codes"] = network.shutdown()
            for url in shared_urls:
                if not config.keep_databases:
                    try:
                        _drop(url)
                    except Exception as exc:  # noqa: BLE001  (cleanup must not hide the report)
                        self.log(f"could not drop {url}: {exc}")
            server.destroy()
            if not config.directory:
                shutil.rmtree(directory, ignore_errors=True)
        report["config"]["total_s"] = round(time.monotonic() - started, 1)
        report["config"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
        return report

    def _setup_election(self) -> None:
        from cryptography.hazmat.primitives import serialization

        config, network = self.config, self.network
        signer = blindrsa.generate_private_key(2048)
        pem = signer.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
        count = config.votes_needed()
        self.log(f"signing {count} votes ({config.mobile_share:.0%} mobile, with RFC 9474 credentials)")
        signed = time.monotonic()
        self.units, kiosk = prepare_votes(network.chain, count, config.mobile_share, pem, self.log)
        self.sign_s = time.monotonic() - signed
        self.by_vote = {u.vote_id: u for u in self.units}
        mobile = len(self.units) - len(kiosk)
        key_hex = blindrsa.public_key_der(signer.public_key()).hex()
        txs = election_txs(network.authority, network.chain, key_hex, kiosk, mobile)
        self.log(f"election set-up: {len(txs)} transactions ({len(kiosk)} kiosk tokens minted to {KIOSK_STATION}, "
                 f"{mobile} mobile voters registered)")
        statuses = NodeClient(network.urls, timeout_s=60).commit_many(txs, timeout_s=900)
        failed = [s for s in statuses if s.status != "committed"]
        if failed:
            raise RuntimeError(f"election set-up failed: {failed[:3]}")

    # --- load ----------------------------------------------------------------------------------

    async def _main(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            self.session = session
            self.heads = {n.node_id: 0 for n in self.network.nodes}
            followers = [asyncio.create_task(self._follow(n.node_id, n.url)) for n in self.network.nodes]
            helpers = [asyncio.create_task(self._retry()), asyncio.create_task(self._supervise()),
                       asyncio.create_task(self._sample())]
            self.load_started, self.load_started_wall = time.monotonic(), time.time()
            load = asyncio.create_task(self._load())
            faults = asyncio.create_task(self._faults())
            await load
            load_end = time.time()
            self.phases["load"] = (self.load_started_wall, load_end)
            self.log("load finished; waiting for the faults to finish")
            await faults
            self.log(f"draining: {len(self.outstanding)} votes not yet seen in a block")
            drained = await self._drain()
            self.drained = drained
            self.stop_follow = True
            await asyncio.gather(*followers, *helpers, return_exceptions=True)
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _rate_at(self, elapsed: float) -> float:
        config = self.config
        burst_start = config.burst_at * config.duration_s
        if config.burst_seconds > 0 and burst_start <= elapsed < burst_start + config.burst_seconds:
            return config.burst_rate
        return config.rate

    async def _load(self) -> None:
        config = self.config
        nodes = [n.node_id for n in self.network.nodes]
        owed, cursor, turn = 0.0, 0, 0
        last = time.monotonic()
        burst_start = config.burst_at * config.duration_s
        if config.burst_seconds > 0:
            self.phases["burst"] = (self.load_started_wall + burst_start,
                                    self.load_started_wall + burst_start + config.burst_seconds)
        while True:
            now = time.monotonic()
            elapsed = now - self.load_started
            if elapsed >= config.duration_s:
                break
            owed += self._rate_at(elapsed) * (now - last)
            last = now
            due = int(owed)
            owed -= due
            if cursor + due > len(self.units):
                self.counters["pool_exhausted"] += 1
                due = len(self.units) - cursor
            batch = list(range(cursor, cursor + due))
            cursor += due
            if batch:
                self.counters["offered"] += len(batch)
                parts = [batch[i::len(nodes)] for i in range(len(nodes))]
                for offset, part in enumerate(parts):
                    if part:
                        self._spawn(self._send(part, nodes[(turn + offset) % len(nodes)]))
                turn += 1
            await asyncio.sleep(max(0.0, config.tick_s - (time.monotonic() - now)))
        self.sent_count = cursor

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _send(self, indices: list[int], first: str) -> None:
        """One batch to ``first``, falling over to the other nodes as a client would."""
        nodes = [n.node_id for n in self.network.nodes]
        order = nodes[nodes.index(first):] + nodes[:nodes.index(first)]
        wall, mono = time.time(), time.monotonic()
        for index in indices:
            unit = self.units[index]
            if unit.first_sent is None:
                unit.first_sent = wall
                self.outstanding.add(index)
            unit.last_sent = mono
            unit.sends += 1
            unit.retry_due = None
        raws = [raw for index in indices for raw in self.units[index].raws]
        body = b'{"txs":[' + b",".join(raws) + b"]}"
        for node in order:
            url = self.network.node(node).url + "/v1/txs"
            try:
                async with self.session.post(url, data=body, headers={"Content-Type": "application/json"},
                                             timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S)) as response:
                    answer = await response.json(content_type=None)
                    status = response.status
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                self.counters["post_failed"] += 1
                continue
            if status != 200:
                self.counters[f"http_{status}"] += 1
                continue
            self._record(indices, answer["results"])
            return
        for index in indices:  # nobody answered: try again later
            self.units[index].retry_due = time.monotonic() + _backoff(self.units[index].sends)

    def _record(self, indices: list[int], results: list[dict[str, Any]]) -> None:
        position = 0
        now = time.monotonic()
        for index in indices:
            unit = self.units[index]
            mine = results[position:position + len(unit.raws)]
            position += len(unit.raws)
            if all(r["status"] in ADMITTED for r in mine):
                if unit.admitted_at is None:
                    unit.admitted_at = now
                continue
            codes = [str(r.get("code")) for r in mine if r["status"] not in ADMITTED]
            if any(code in RETRYABLE for code in codes):
                self.counters["retryable_refusals"] += 1
                unit.retry_due = now + _backoff(unit.sends)
            elif unit.vote_id in self.served.confirmed:
                continue  # e.g. a resubmitted mint after its block: the vote itself is in
            else:
                unit.rejected = ",".join(codes)
                self.rejections[unit.rejected] += 1
                self.outstanding.discard(index)

    async def _retry(self) -> None:
        """Resend what was refused for now, and what was admitted but never seen in a block.

        With backoff (the wait doubles with every send, up to 8x) and at most ``rate`` votes
        a second, as a well-behaved client would: an unbounded retry of everything not yet
        committed doubles the offered load exactly when the network is slowest."""
        while not self.stop_follow:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            resubmit_after = 10.0 if self.stop_load else self.config.resubmit_after_s
            budget = max(20, int(self.config.rate))
            due: list[int] = []
            for index in sorted(self.outstanding):
                unit = self.units[index]
                if unit.vote_id in self.served.confirmed:
                    self.outstanding.discard(index)
                elif len(due) >= budget:
                    continue
                elif unit.retry_due is not None and unit.retry_due <= now:
                    due.append(index)
                elif unit.retry_due is None and now - unit.last_sent > resubmit_after * 2 ** min(unit.sends - 1, 3):
                    due.append(index)
                    self.counters["resubmitted_unconfirmed"] += 1
            nodes = [n.node_id for n in self.network.nodes]
            for start in range(0, len(due), 200):
                self._spawn(self._send(due[start:start + 200], self.rng.choice(nodes)))

    async def _follow(self, node: str, url: str) -> None:
        """Remember every block this node serves; a node that later changes one loses it."""
        served = self.served
        mine = served.by_node.setdefault(node, {})
        height = 1
        while not self.stop_follow:
            try:
                async with self.session.get(f"{url}/v1/blocks?from={height}&limit=200",
                                            timeout=aiohttp.ClientTimeout(total=10)) as response:
                    page = await response.json(content_type=None)
                blocks = page["blocks"]
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError, TypeError):
                await asyncio.sleep(0.5)
                continue
            for entry in blocks:
                number, block_hash = int(entry["height"]), str(entry["hash"])
                if mine.get(number, block_hash) != block_hash:
                    served.conflicts.append((node, number, mine[number], block_hash))
                mine[number] = block_hash
                moment = datetime.fromisoformat(entry["committed_at"]).timestamp()
                served.first_commit[block_hash] = min(moment, served.first_commit.get(block_hash, moment))
                if block_hash not in served.txs_of:
                    ids = [Transaction.from_dict(tx).id_hex for tx in entry["block"]["txs"]]
                    served.txs_of[block_hash] = ids
                    for tx_id in ids:
                        served.confirmed.setdefault(tx_id, (number, block_hash))
            if blocks:
                height = int(blocks[-1]["height"]) + 1
                self.heads[node] = height - 1
            if len(blocks) < 200:
                await asyncio.sleep(0.3)

    async def _supervise(self) -> None:
        """Like a process supervisor: a node that exits on its own is recorded and restarted."""
        while not self.stop_follow:
            await asyncio.sleep(0.5)
            for node in self.network.nodes:
                if node.node_id in self.expected_down or node.running or node.process is None:
                    continue
                code = node.process.poll()
                self.unexpected_exits.append({"node": node.node_id, "code": code,
                                              "at_s": round(time.monotonic() - self.load_started, 1)})
                self.log(f"{node.node_id} exited on its own (code {code}); restarting it")
                await asyncio.to_thread(node.start)

    async def _sample(self) -> None:
        while not self.stop_follow:
            await asyncio.sleep(5.0)
            sample = {"t_s": round(time.monotonic() - self.load_started, 1), "offered": self.counters["offered"],
                      "confirmed_votes": sum(1 for u in self.units[:self.counters["offered"]]
                                             if u.vote_id in self.served.confirmed),
                      "outstanding": len(self.outstanding), "heads": dict(self.heads),
                      "load_avg_1m": round(os.getloadavg()[0], 2)}
            self.samples.append(sample)
            self.log(f"t={sample['t_s']}s offered={sample['offered']} committed={sample['confirmed_votes']} "
                     f"outstanding={sample['outstanding']} heads={sample['heads']} load={sample['load_avg_1m']}")

    async def _drain(self) -> bool:
        self.stop_load = True
        deadline = time.monotonic() + self.config.drain_timeout_s
        while time.monotonic() < deadline:
            pending = [i for i in self.outstanding if self.units[i].vote_id not in self.served.confirmed]
            heads = set(self.heads.values())
            if not pending and len(heads) == 1:
                statuses = await asyncio.to_thread(self.network.heights)
                if set(statuses.values()) == heads:
                    return True
            await asyncio.sleep(1.0)
        return False

    # --- faults ---------------------------------------------------------------------------------

    async def _faults(self) -> None:
        config = self.config
        plan = sorted([(config.kill_at, self._kill), (config.partition_at, self._partition),
                       (config.db_restart_at, self._db_restart)], key=lambda item: item[0])
        for fraction, action in plan:
            due = self.load_started + fraction * config.duration_s
            late = time.monotonic() - due
            if late < 0:
                await asyncio.sleep(-late)
            record = await action()
            record["started_late_s"] = round(max(0.0, late), 1)
            self.faults.append(record)
            self.log(f"fault done: {record}")

    def _elapsed(self) -> float:
        return round(time.monotonic() - self.load_started, 1)

    async def _top(self, nodes: list[Any]) -> int:
        heights = await asyncio.to_thread(self.network.heights, nodes)
        return max(h or 0 for h in heights.values())

    async def _wait_height(self, nodes: list[Any], target: int, timeout: float) -> float | None:
        """Seconds until every node in ``nodes`` stores ``target``; None on timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            heights = await asyncio.to_thread(self.network.heights, nodes)
            if all(h is not None and h >= target for h in heights.values()):
                return round(time.monotonic() - started, 2)
            await asyncio.sleep(0.2)
        return None

    def _others(self, victim: Any) -> list[Any]:
        return [n for n in self.network.nodes if n is not victim]

    async def _kill(self) -> dict[str, Any]:
        """SIGKILL the next proposer among the shared-server nodes; restart it after the outage."""
        network = self.network
        candidates = network.nodes[:-1]
        proposer = await asyncio.to_thread(network.current_proposer)
        victim = proposer if proposer in candidates else candidates[0]
        started = time.time()
        self.expected_down.add(victim.node_id)
        await asyncio.to_thread(victim.kill)
        killed = time.monotonic()
        at = self._elapsed()
        self.log(f"SIGKILL {victim.node_id} (next proposer: {proposer.node_id})")
        others = self._others(victim)
        progress = asyncio.create_task(self._wait_height(others, await self._top(others) + 1,
                                                         self.config.outage_s + 60))
        await asyncio.sleep(max(0.0, started + self.config.outage_s - time.time()))
        restart = time.monotonic()
        await asyncio.to_thread(victim.start)
        self.expected_down.discard(victim.node_id)
        participating = None
        try:
            await asyncio.to_thread(network.wait_participating, victim, self.config.catch_up_timeout_s)
            participating = round(time.monotonic() - restart, 2)
        except (AssertionError, TimeoutError) as exc:
            self.log(f"{victim.node_id} did not come back: {exc}")
        target = await self._top(others)
        caught = await self._wait_height([victim], target, self.config.catch_up_timeout_s)
        self.phases["kill"] = (started, time.time())
        return {"fault": "node_killed", "node": victim.node_id, "at_s": at, "down_s": round(restart - killed, 1),
                "others_next_block_s": await progress, "restart_to_participating_s": participating,
                "restart_to_caught_up_s": None if caught is None else round(time.monotonic() - restart, 2),
                "caught_up_to": target, "recovered": caught is not None}

    async def _partition(self) -> dict[str, Any]:
        """Blackhole every peer link of one node (clients still reach it); heal after the outage."""
        network = self.network
        victim = network.nodes[1] if self.faults and self.faults[0].get("node") == network.nodes[0].node_id \
            else network.nodes[0]
        started = time.time()
        await asyncio.to_thread(network.proxies.isolate, victim.node_id)
        cut = time.monotonic()
        at = self._elapsed()
        self.log(f"isolated {victim.node_id}")
        others = self._others(victim)
        cut_height = await self._top([victim])
        progress = asyncio.create_task(self._wait_height(others, await self._top(others) + 1,
                                                         self.config.outage_s + 60))
        await asyncio.sleep(max(0.0, started + self.config.outage_s - time.time()))
        isolated_height = await self._top([victim])
        healed = time.monotonic()
        await asyncio.to_thread(network.proxies.heal, victim.node_id)
        target = await self._top(others)
        caught = await self._wait_height([victim], target, self.config.catch_up_timeout_s)
        self.phases["partition"] = (started, time.time())
        return {"fault": "node_partitioned", "node": victim.node_id, "at_s": at,
                "cut_s": round(healed - cut, 1),
                "majority_next_block_s": await progress,
                "isolated_node_blocks_while_cut": isolated_height - cut_height,
                "heal_to_caught_up_s": None if caught is None else round(time.monotonic() - healed, 2),
                "caught_up_to": target, "recovered": caught is not None}

    async def _db_restart(self) -> dict[str, Any]:
        """``pg_ctl stop -m fast`` of the private server holding the last node's database, then start."""
        victim = self.network.nodes[-1]
        started = time.time()
        self.expected_down.add(victim.node_id)  # the supervisor restarts it only once its database is back
        await asyncio.to_thread(self.server.stop, "fast")
        stopped = time.monotonic()
        at = self._elapsed()
        self.log(f"stopped the PostgreSQL server of {victim.node_id}")
        others = self._others(victim)
        progress = asyncio.create_task(self._wait_height(others, await self._top(others) + 1,
                                                         self.config.outage_s + 60))
        await asyncio.sleep(max(0.0, started + self.config.outage_s - time.time()))
        exited_during_outage = not victim.running
        exit_code = victim.process.poll() if victim.process is not None else None
        back = time.monotonic()
        await asyncio.to_thread(self.server.start)
        await asyncio.to_thread(wait_accepting, self.server.url)
        db_start_s = round(time.monotonic() - back, 2)
        restarted = False
        if not victim.running:
            await asyncio.to_thread(victim.start)
            restarted = True
        self.expected_down.discard(victim.node_id)
        try:
            await asyncio.to_thread(self.network.wait_participating, victim, self.config.catch_up_timeout_s)
        except (AssertionError, TimeoutError) as exc:
            self.log(f"{victim.node_id} did not come back after its database: {exc}")
        target = await self._top(others)
        caught = await self._wait_height([victim], target, self.config.catch_up_timeout_s)
        self.phases["db_restart"] = (started, time.time())
        return {"fault": "database_restarted", "node": victim.node_id, "at_s": at,
                "db_down_s": round(back - stopped, 1),
                "others_next_block_s": await progress, "db_start_s": db_start_s,
                "node_exited_during_outage": exited_during_outage, "node_exit_code": exit_code,
                "node_restarted_by_supervisor": restarted,
                "db_back_to_caught_up_s": None if caught is None else round(time.monotonic() - back, 2),
                "caught_up_to": target, "recovered": caught is not None}

    # --- the end --------------------------------------------------------------------------------

    def _finish(self) -> dict[str, Any]:
        from tests.ledger.faults.checks import read_chains

        network = self.network
        try:
            head = network.wait_same_head(timeout=120)
        except AssertionError as exc:
            self.log(f"no common head: {exc}")
            head = None
        chains = read_chains(network)
        hashes = {node: [e["hash"] for e in entries] for node, entries in chains.items()}
        reference_node = network.nodes[0].node_id
        reference = chains[reference_node]
        final_hash = {int(e["height"]): e["hash"] for e in reference}
        final_ids: Counter[str] = Counter()
        tx_height: dict[str, tuple[int, str]] = {}
        duplicates: dict[str, list[str]] = {}
        for node, entries in chains.items():
            seen: Counter[str] = Counter()
            for entry in entries:
                ids = self.served.txs_of.get(entry["hash"]) or [Transaction.from_dict(tx).id_hex
                                                                 for tx in entry["block"]["txs"]]
                seen.update(ids)
                if node == reference_node:
                    for tx_id in ids:
                        tx_height[tx_id] = (int(entry["height"]), entry["hash"])
            repeated = [tx_id for tx_id, n in seen.items() if n > 1]
            if repeated:
                duplicates[node] = repeated[:5]
            if node == reference_node:
                final_ids = seen

        checks: dict[str, dict[str, Any]] = {}

        def check(name: str, ok: bool, **detail: Any) -> None:
            checks[name] = {"pass": bool(ok), **detail}

        same = len({tuple(h) for h in hashes.values()}) == 1
        check("identical_chains", same and head is not None, heights={n: len(h) for n, h in hashes.items()},
              head_hash=hashes[reference_node][-1] if hashes[reference_node] else None)
        check("no_duplicates", not duplicates, examples=duplicates)
        lost_blocks = [(node, height, block_hash) for node, blocks in self.served.by_node.items()
                       for height, block_hash in blocks.items() if final_hash.get(height) != block_hash]
        lost_txs = [tx_id for tx_id, spot in self.served.confirmed.items() if tx_height.get(tx_id) != spot]
        check("no_lost_committed", not lost_blocks and not lost_txs and not self.served.conflicts,
              blocks_served=len(self.served.txs_of), txs_confirmed=len(self.served.confirmed),
              lost_blocks=lost_blocks[:5], lost_txs=lost_txs[:5], changed_blocks=self.served.conflicts[:5])
        sent = self.units[:self.sent_count]
        # Accepted: a node admitted it, or (its answer lost to a timeout) a node served it in a block.
        accepted = [u for u in sent if u.admitted_at is not None or u.vote_id in self.served.confirmed]
        missing = [u.vote_id for u in accepted if u.vote_id not in final_ids]
        never_sent = [u.vote_id for u in self.units[self.sent_count:] if u.vote_id in final_ids]
        check("accepted_votes_committed", not missing and not never_sent, accepted=len(accepted),
              accepted_without_an_answer=sum(1 for u in accepted if u.admitted_at is None),
              missing=missing[:5], committed_but_never_sent=never_sent[:5])
        expected = Counter(u.candidate for u in accepted)
        tallies: dict[str, Any] = {}
        tally_ok = True
        for node in network.nodes:
            try:
                tally = NodeClient([node.url], timeout_s=30).query("vote", "tally", {"election": ELECTION})
            except Exception as exc:  # noqa: BLE001  (reported as a failed check)
                tallies[node.node_id] = f"query failed: {exc}"
                tally_ok = False
                continue
            candidates = {c: n for c, n in tally["candidates"].items() if n}
            mobile_minted = tally["stations"][CREDENTIAL_STATION]["minted"]
            ok = (candidates == dict(expected) and tally["totals"]["spent"] == len(accepted)
                  and mobile_minted == sum(1 for u in accepted if u.kind == "mobile"))
            tally_ok = tally_ok and ok
            tallies[node.node_id] = {"candidates": candidates, "spent": tally["totals"]["spent"],
                                     "mobile_minted": mobile_minted}
        check("tally_equals_accepted", tally_ok, expected=dict(expected), nodes=tallies)
        check("no_rejected_votes", not self.rejections, rejections=dict(self.rejections))
        check("faults_recovered", len(self.faults) == 3 and all(f["recovered"] for f in self.faults),
              faults=[f["fault"] for f in self.faults if f["recovered"]])
        check("drained", bool(getattr(self, "drained", False)),
              never_committed=sum(1 for u in accepted if u.vote_id not in self.served.confirmed))

        latencies = [(self.served.first_commit[self.served.confirmed[u.vote_id][1]] - u.first_sent) * 1000
                     for u in accepted if u.vote_id in self.served.confirmed and u.first_sent is not None]
        commit_times = {entry["hash"]: datetime.fromisoformat(entry["committed_at"]).timestamp()
                        for entry in reference}
        vote_commits = [commit_times[tx_height[u.vote_id][1]] for u in accepted if u.vote_id in tx_height]

        def window(name: str, start: float, end: float) -> dict[str, Any]:
            span = max(1e-9, end - start)
            offered = sum(1 for u in sent if u.first_sent is not None and start <= u.first_sent < end)
            committed = sum(1 for moment in vote_commits if start <= moment < end)
            return {"phase": name, "seconds": round(span, 1), "offered_per_s": round(offered / span, 1),
                    "committed_per_s": round(committed / span, 1)}

        load_start, load_end = self.phases["load"]
        windows = [window("whole_load", load_start, load_end)]
        for name in ("burst", "kill", "partition", "db_restart"):
            if name in self.phases:
                windows.append(window(name, *self.phases[name]))
        if "burst" in self.phases:
            burst_start, burst_end = self.phases["burst"]
            steady = window("steady", load_start, load_end)
            span = (load_end - load_start) - (burst_end - burst_start)
            offered = sum(1 for u in sent if u.first_sent is not None and load_start <= u.first_sent < load_end
                          and not burst_start <= u.first_sent < burst_end)
            committed = sum(1 for m in vote_commits if load_start <= m < load_end and not burst_start <= m < burst_end)
            steady.update(seconds=round(span, 1), offered_per_s=round(offered / span, 1),
                          committed_per_s=round(committed / span, 1))
            windows.insert(1, steady)
        results = {
            "votes_offered": len(sent), "votes_accepted": len(accepted),
            "votes_mobile": sum(1 for u in accepted if u.kind == "mobile"),
            "votes_kiosk": sum(1 for u in accepted if u.kind == "kiosk"),
            "blocks": len(reference), "final_height": len(reference),
            "commit_latency_ms": {"p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
                                  "p99": percentile(latencies, 0.99), "max": percentile(latencies, 1.0),
                                  "count": len(latencies)},
            "throughput": windows, "faults": self.faults, "unexpected_exits": self.unexpected_exits,
            "client": dict(self.counters), "votes_sent_more_than_once": sum(1 for u in sent if u.sends > 1),
            "sign_s": round(self.sign_s, 1), "samples": self.samples,
        }
        return {"results": results, "checks": checks, "pass": all(c["pass"] for c in checks.values())}


def run_campaign(config: CampaignConfig, log: Log) -> dict[str, Any]:
    return Campaign(config, log).run()


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str)
