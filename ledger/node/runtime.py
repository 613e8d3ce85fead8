"""One municipal node: an asyncio process driving the sans-I/O consensus engine.

Each piece of state has one owner:

- the event loop: sockets only (HTTP API, peer websockets, sync fetches, timers);
- the *state thread*: the engine, the in-memory ledger and the mempool. Every engine call,
  state check of a transaction and query runs there, one at a time;
- the *verify threads*: decoding and signature checks of submitted and gossiped
  transactions (OpenSSL releases the GIL, so they run in parallel), and a *decode thread*
  for consensus frames, so consensus never queues behind a burst of gossip;
- the *database thread*: every ORM write, in submission order (blocks are persisted in
  height order; the signer state is written, and awaited, before any later send), plus two
  read threads for peers and observers.

Start-up: open the database (init from genesis.json if empty, refuse another genesis),
replay the stored chain, serve the API, sync from the best peer (every block verified:
certificate against the genesis, then execution), then start the engine and dial peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

from ledger.core.block import Block, CommitCertificate
from ledger.core.consensus.engine import Engine
from ledger.core.consensus.interface import (
    Broadcast,
    Committed,
    Evidence,
    Output,
    PersistSignerState,
    RequestSync,
    SendTo,
    SignerState,
)
from ledger.core.errors import LedgerError
from ledger.core.tx import make_tx

from .. import services
from ..errors import GenesisMismatch, NodeConfigInvalid
from .admission import Checked, check_raw_batch, check_txs_frame, looks_like_txs_frame
from .app import NodeApplication, wall_ms
from .config import NodeHome
from .frames import TXS, decode_frame, encode_consensus_frame
from .gossip import TxGossip
from .mempool import COMMITTED, PENDING, REJECTED, UNKNOWN, Admission, Mempool
from .metrics import NodeMetrics, is_vote
from .peers import PeerNetwork
from .signer_file import later, read_signer_state, signer_state_path, write_signer_state
from .sync import ChainSync, SyncPage
from .waiters import TxWaiters

logger = logging.getLogger(__name__)
T = TypeVar("T")

INBOX_ITEMS = 20_000
STEP_BATCH = 512
ADMIT_CHUNK = 256  # transactions per state-thread job: a consensus step never waits long behind one
TX_FRAME_QUEUE = 256  # gossip frames waiting for verification; more are dropped (the sender keeps them)
VERIFY_THREADS = max(2, os.cpu_count() or 2)
DECODED_CACHE = 16  # large frames (proposals, commits) recently decoded, by digest
LARGE_FRAME = 64 * 1024
# A node whose connected voting power (its own plus peers linked both ways) stays below the
# quorum for this long refuses reads that claim to be current (docs/node-api.md, "Isolation").
# The grace covers start-up and a peer's reconnect, so a brief blip never fails clients over.
ISOLATION_GRACE_S = 5.0
QUORUM_WATCH_S = 0.25
TASK_STOP_S = 5.0  # a cancelled task that has not finished by then: the process exits at once
EXIT_STUCK = 70  # EX_SOFTWARE
CLOCK_OFFSET_ENV = "EVOTE_TEST_CLOCK_OFFSET_MS"


def call_with_reconnect(fn: Callable[..., T], *args: Any) -> T:
    """Database thread: run ``fn``; if the connection broke (server restart), reconnect once.

    Only connection-level errors are retried; every write here is one atomic transaction,
    so a failed attempt left nothing behind.
    """
    try:
        return fn(*args)
    except (InterfaceError, OperationalError) as exc:
        logger.warning("database error, reconnecting once: %s", exc)
        for connection in connections.all(initialized_only=True):
            connection.close()
        return fn(*args)


async def next_items(inbox: asyncio.Queue[T], timeout_s: float | None, limit: int) -> list[T]:
    """Wait up to ``timeout_s`` (None: forever) for one item, then take what else is queued, up to ``limit``.

    ``asyncio.timeout`` rather than ``asyncio.wait_for``: on Python 3.11, ``wait_for`` runs the
    wait in an inner task and, when that task has just received an item as the outer one is
    cancelled, returns the item and drops the cancellation (CPython gh-86296, fixed in 3.12).
    The consensus loop then ran on after ``_shutdown`` cancelled it and the shutdown waited for it
    forever: a node whose database had failed stayed up, out of consensus, and never restarted
    (found by bench/campaign.py's database restart; tests/ledger/node/test_shutdown.py).
    """
    items: list[T] = []
    try:
        async with asyncio.timeout(timeout_s):
            items.append(await inbox.get())
    except TimeoutError:
        pass
    while len(items) < limit and not inbox.empty():
        items.append(inbox.get_nowait())
    return items


@dataclass
class StepResult:
    """What the state thread hands back to the loop: I/O to perform, in order."""

    actions: list[tuple[Any, ...]] = field(default_factory=list)
    rejected: list[bytes] = field(default_factory=list)


def _log_failed_signer_copy(done: Any) -> None:
    """The database copy is a convenience (the file is the guard): a failure is logged, not fatal."""
    if not done.cancelled() and done.exception() is not None:
        logger.warning("could not copy the signer state to the database: %s", done.exception())


def node_clock() -> Callable[[], int]:
    """The node's wall clock; in development and test runs ``EVOTE_TEST_CLOCK_OFFSET_MS`` skews it.

    The offset lets a test run one node of a real network with a wrong clock (tests/fuzz/
    test_clock_skew.py). It is ignored, with an error in the log, in production, where a skewed
    node would only hurt itself and the operator must fix the host clock (NTP) instead.
    """
    raw = os.environ.get("EVOTE_TEST_CLOCK_OFFSET_MS", "").strip()  # the literal: tests/deploy scans for it
    if not raw:
        return wall_ms
    try:
        offset = int(raw)
    except ValueError as exc:
        raise NodeConfigInvalid(f"{CLOCK_OFFSET_ENV} must be an integer number of milliseconds",
                                detail={"value": raw[:40]}) from exc
    if settings.DJANGO_ENV == "production" or not (settings.DEBUG or settings.DJANGO_ENV == "test"):
        logger.error("%s is set but ignored: it is honoured only in development and test runs", CLOCK_OFFSET_ENV)
        return wall_ms
    logger.warning("test clock: this node's wall clock is off by %+d ms (%s)", offset, CLOCK_OFFSET_ENV)
    return lambda: wall_ms() + offset


class Node:
    def __init__(self, home: NodeHome, *, clock: Callable[[], int] | None = None) -> None:
        self.config = home.config
        self.genesis = home.genesis
        self.key = home.key
        self.node_id = home.config.node_id
        self.clock = clock if clock is not None else node_clock()
        self.metrics = NodeMetrics()
        self.app: NodeApplication | None = None
        self.engine: Engine | None = None
        self.peers: PeerNetwork | None = None
        self.gossip: TxGossip | None = None
        self.sync = ChainSync(self)
        self.waiters = TxWaiters()
        self.participating = False
        self.persisted_height = 0
        self.last_commit_wall: int | None = None
        self._quorum_seen: float | None = None  # monotonic time the connected power last reached the quorum
        self._db = ThreadPoolExecutor(1, thread_name_prefix="ledger-db")
        # The signer state goes to a local file on its own thread: never queued behind a block insert.
        self._signer_io = ThreadPoolExecutor(1, thread_name_prefix="ledger-signer")
        self._signer_path = signer_state_path(home.config.home)
        self._state = ThreadPoolExecutor(1, thread_name_prefix="ledger-state")
        # Reads for peers and observers get their own threads, so they never delay a write.
        self._db_read = ThreadPoolExecutor(2, thread_name_prefix="ledger-db-read")
        # Decoding and signature checks: OpenSSL releases the GIL, so these run in parallel.
        self._verify = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="ledger-verify")
        # Consensus frames are decoded on their own thread, never queued behind gossip verification.
        self._decode_pool = ThreadPoolExecutor(1, thread_name_prefix="ledger-decode")
        self._admit_slot: asyncio.Semaphore | None = None
        self._tx_frames: deque[tuple[str, bytes]] = deque()
        self._tx_frames_wake: asyncio.Event | None = None
        self._txs_available_queued = False
        self._decoded: OrderedDict[bytes, tuple[str, Any]] = OrderedDict()
        self._inbox: asyncio.Queue[tuple[Any, ...]] | None = None
        self._admitted_at: dict[bytes, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self.fatal: BaseException | None = None

    # --- threads ----------------------------------------------------------------------------

    async def in_state(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._state, fn, *args)

    async def in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, call_with_reconnect, fn, *args)

    async def in_db_read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_read, call_with_reconnect, fn, *args)

    async def in_verify(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._verify, fn, *args)

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self, *, on_ready: Callable[[], None] | None = None) -> None:
        """Start, serve until ``request_stop``, shut down cleanly; re-raise a fatal error."""
        from .api import build_api

        self._stop = asyncio.Event()
        self._inbox = asyncio.Queue(INBOX_ITEMS)
        self._admit_slot = asyncio.Semaphore(1)
        self._mempool_senders: dict[str, asyncio.Task[None]] = {}
        self._tx_frames_wake = asyncio.Event()
        await self._open_store()
        self.peers = PeerNetwork(node_id=self.node_id, key=self.key, genesis=self.genesis, peers=self.config.peers,
                                 on_frame=self._on_frame, on_connected=self._on_peer_connected)
        self.gossip = TxGossip(self.peers)
        runner = web.AppRunner(build_api(self), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.config.listen_host, self.config.listen_port, reuse_address=True).start()
        except OSError as exc:
            await runner.cleanup()
            raise NodeConfigInvalid(f"cannot listen on {self.config.listen_host}:{self.config.listen_port}: "
                                    f"{exc.strerror}", detail={"port": self.config.listen_port}) from exc
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_connect=3))
        logger.info("node %s serving %s (height %s)", self.node_id, self.config.public_url, self.height)
        try:
            if await self._initial_sync_or_stop(self._session, self._stop):
                self._start_engine()
                if on_ready is not None:
                    on_ready()
                await self._stop.wait()
        finally:
            await self._shutdown(runner)
        if self.fatal is not None:
            raise self.fatal

    async def _initial_sync_or_stop(self, session: aiohttp.ClientSession, stop_event: asyncio.Event) -> bool:
        """Catch up before taking part; a stop request wins (a stalling peer must not block SIGTERM)."""
        sync = asyncio.create_task(self.sync.initial(session), name="initial-sync")
        stop = asyncio.create_task(stop_event.wait(), name="stop-during-sync")
        await asyncio.wait({sync, stop}, return_when=asyncio.FIRST_COMPLETED)
        if sync.done():
            stop.cancel()
            sync.result()  # re-raise a sync failure
            return True
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sync
        return False

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _fail(self, exc: BaseException) -> None:
        logger.critical("node %s stops on a fatal error: %r", self.node_id, exc)
        if self.fatal is None:
            self.fatal = exc
        self.request_stop()

    async def _open_store(self) -> None:
        hashes: list[bytes] = []

        def open_store() -> tuple[Any, SignerState | None]:
            result = services.ledger_init(self.genesis)
            if result.created:
                logger.info("initialised the database with genesis %s", result.genesis_hash)
            stored = services.get_stored_genesis()
            if stored.hash != self.genesis.hash:
                raise GenesisMismatch(detail={"stored": stored.hash.hex(), "given": self.genesis.hash.hex()})
            started = time.monotonic()
            ledger = services.load_ledger(self.genesis, on_block=lambda s: hashes.append(s.block.hash))
            logger.info("replayed %s stored blocks in %.2fs", ledger.height, time.monotonic() - started)
            return ledger, services.load_signer_state()

        ledger, stored_signer = await self.in_db(open_store)
        self._signer_state = later(read_signer_state(self._signer_path), stored_signer)
        mempool = Mempool(ledger, max_txs=self.config.mempool_max_txs)
        self.app = NodeApplication(ledger, mempool, validator_id=self.node_id, clock=self.clock,
                                   max_proposal_txs=self.config.proposal_max_txs)
        self.app.block_hashes.extend(hashes)
        self.persisted_height = ledger.height

    def _start_engine(self) -> None:
        assert self.app is not None and self.peers is not None and self._session is not None  # set in run()
        self.engine = Engine(self.genesis, self.app, validator_id=self.node_id, key=self.key,
                             signer_state=self._signer_state, config=self.config.consensus, now=self.clock())
        self._inbox.put_nowait(("start",))  # type: ignore[union-attr]
        self.participating = True
        self.peers.start(self._session)
        assert self.gossip is not None
        self._quorum_seen = time.monotonic()  # start-up counts as connected: the initial sync just ended
        self._tasks += [asyncio.create_task(self._consensus_loop(), name="consensus"),
                        asyncio.create_task(self.gossip.run(), name="gossip"),
                        asyncio.create_task(self._watch_quorum(), name="quorum-watch")]
        self._tasks += [asyncio.create_task(self._tx_frame_worker(), name=f"tx-frames-{i}")
                        for i in range(VERIFY_THREADS)]

    async def _shutdown(self, runner: web.AppRunner) -> None:
        self.participating = False
        for task in self._tasks:
            task.cancel()
        if self._inbox is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._inbox.put_nowait(("stop",))  # wakes the consensus loop even if a cancel were lost
        _, stuck = await asyncio.wait(self._tasks, timeout=TASK_STOP_S) if self._tasks else (set(), set())
        if stuck:
            # Not expected (see next_items). asyncio.run would wait for these tasks again at exit, and a
            # process that never exits is never restarted by its supervisor: a node that looks alive
            # but takes no part (bench/campaign.py found one). So: say which, and exit now; every block
            # write already queued is lost only from this process, the restart re-syncs from peers.
            logger.critical("tasks did not stop within %s s: %s; exiting", TASK_STOP_S,
                            sorted(t.get_name() for t in stuck))
            logging.shutdown()
            os._exit(EXIT_STUCK)
        await self.sync.stop()
        if self.peers is not None:
            await self.peers.stop()
        self.waiters.wake_all()  # long-polls answer now instead of holding the shutdown
        await runner.cleanup()
        if self._session is not None:
            await self._session.close()
        await self.in_db(connections.close_all)  # runs after every queued block write
        for _ in range(2):
            await self.in_db_read(connections.close_all)
        self._signer_io.shutdown(wait=True)
        self._db.shutdown(wait=True)
        self._db_read.shutdown(wait=True)
        self._verify.shutdown(wait=True)
        self._decode_pool.shutdown(wait=True)
        self._state.shutdown(wait=True)
        logger.info("node %s stopped at height %s", self.node_id, self.persisted_height)

    # --- reads for the API ------------------------------------------------------------------

    @property
    def height(self) -> int:
        return self.app.ledger.height if self.app is not None else 0

    def tx_status(self, tx_id: bytes) -> dict[str, Any]:
        """Current status of a transaction (reads are single dict lookups, safe across threads)."""
        app = self.app
        assert app is not None  # the API starts after the store is open
        height = app.ledger.tx_height(tx_id)
        if height is not None and height <= self.persisted_height:
            block_hash = app.block_hash_at(height)
            return {"id": tx_id.hex(), "status": COMMITTED, "height": height,
                    "block_hash": block_hash.hex() if block_hash else None}
        if height is not None or tx_id in app.mempool:
            return {"id": tx_id.hex(), "status": PENDING}
        rejection = app.mempool.rejection(tx_id)
        if rejection is not None:
            return {"id": tx_id.hex(), "status": REJECTED, "code": rejection.code, "message": rejection.message}
        return {"id": tx_id.hex(), "status": UNKNOWN}

    async def wait_for_tx(self, tx_id: bytes, wait_ms: int) -> dict[str, Any]:
        """Long-poll: return once the transaction is committed or rejected, or after ``wait_ms``."""
        status = self.tx_status(tx_id)
        if status["status"] in {COMMITTED, REJECTED} or wait_ms <= 0:
            return status
        await self.waiters.wait(tx_id, wait_ms / 1000)
        return self.tx_status(tx_id)

    def status(self) -> dict[str, Any]:
        app, engine, peers = self.app, self.engine, self.peers
        ledger = app.ledger if app is not None else None
        return {
            "chain": self.genesis.chain,
            "genesis_hash": self.genesis.hash.hex(),
            "node_id": self.node_id,
            "public_url": self.config.public_url,
            "height": ledger.height if ledger else 0,
            "head_hash": ledger.head_hash.hex() if ledger else None,
            "head_time": ledger.head_time if ledger else None,
            "persisted_height": self.persisted_height,
            "last_commit_wall": self.last_commit_wall,
            "round": engine.round if engine else None,
            "step": engine.step if engine else None,
            "active": engine.is_active if engine else False,
            "participating": self.participating,
            "syncing": self.sync.active,
            "mempool_size": len(app.mempool) if app else 0,
            "peers_connected": peers.connected_count() if peers else 0,
            "peers": peers.describe() if peers else {},
            "connected_power": self.connected_power(),
            "quorum_power": self.genesis.quorum_power(),
            "isolated": self.is_isolated(),
            "validators": [{"id": v.id, "name": v.name, "power": v.power} for v in self.genesis.validators],
        }

    # --- isolation: is what this node serves current? -------------------------------------------

    def connected_power(self) -> int:
        """Voting power this node can reach: its own plus every peer linked in both directions.

        Consensus needs both: frames go out on the link we dialled and arrive on the one the peer
        dialled, so a half-open pair cannot help commit anything.
        """
        own = self.genesis.validator(self.node_id)
        power = own.power if own is not None else 0
        if self.peers is None:
            return power
        for peer, link in self.peers.describe().items():
            validator = self.genesis.validator(peer)
            if validator is not None and link["outbound"] and link["inbound"]:
                power += validator.power
        return power

    def is_isolated(self) -> bool:
        """Cut off from a quorum for longer than the grace: new blocks cannot reach this node.

        Its chain may then lag the network by any amount, so reads that claim to be current
        (tallies, pending or unknown transactions) and submissions are refused with 503
        ``node_isolated`` and clients fail over; final data (blocks, committed transactions)
        and /v1/status stay served.
        """
        if not self.participating or self._quorum_seen is None:
            return False  # still syncing: node_starting already covers this state
        if self.connected_power() >= self.genesis.quorum_power():
            self._quorum_seen = time.monotonic()
            return False
        return time.monotonic() - self._quorum_seen > ISOLATION_GRACE_S

    async def _watch_quorum(self) -> None:
        """Sample the connected power, so the grace counts from the moment the quorum was lost."""
        while True:
            self.is_isolated()
            await asyncio.sleep(QUORUM_WATCH_S)

    def render_metrics(self) -> str:
        return self.metrics.render(
            node=self.node_id, height=self.height, persisted_height=self.persisted_height,
            peers=self.peers.connected_count() if self.peers else 0,
            mempool=len(self.app.mempool) if self.app else 0,
            round=self.engine.round if self.engine else 0,
            frames_dropped=self.peers.frames_dropped if self.peers else 0, now_ms=self.clock(),
        )

    # --- transactions in --------------------------------------------------------------------

    async def submit(self, raw_txs: list[bytes]) -> list[Admission]:
        """Admit canonical transactions from a client; gossip and wake the engine for new ones."""
        parts = max(1, min(VERIFY_THREADS, len(raw_txs) // 64))
        size = -(-len(raw_txs) // parts)
        checked: list[Checked] = []
        for part in await asyncio.gather(*[
            self.in_verify(check_raw_batch, raw_txs[i:i + size], self.genesis.chain, self._is_known)
            for i in range(0, len(raw_txs), size)
        ]):
            checked += part
        admissions = await self._admit_checked(checked, local=True)
        now = self.clock()
        fresh = [raw for raw, admission in zip(raw_txs, admissions) if admission.new]
        for admission in admissions:
            if admission.new and admission.tx_id is not None:
                self._admitted_at[bytes.fromhex(admission.tx_id)] = now
        self.metrics.txs_admitted += len(fresh)
        self.metrics.txs_rejected += sum(1 for a in admissions if a.status == REJECTED)
        if fresh:
            self._queue_gossip(fresh)
            self._notify_txs_available()
        return admissions

    def _is_known(self, tx_id: bytes) -> bool:
        """Held or committed here (single dict lookups: safe to call from the verify threads)."""
        app = self.app
        return app is not None and (tx_id in app.mempool or app.ledger.tx_height(tx_id) is not None)

    async def _admit_checked(self, checked: list[Checked], *, local: bool) -> list[Admission]:
        """State-thread admission in small chunks, one chunk at a time across all callers."""
        if self._admit_slot is None:
            raise RuntimeError("the node is not running")  # a bug: the API starts after run() set it
        admissions: list[Admission] = []
        for start in range(0, len(checked), ADMIT_CHUNK):
            async with self._admit_slot:
                chunk, rejected = await self.in_state(self._admit_chunk, checked[start:start + ADMIT_CHUNK], local)
            admissions += chunk
            for tx_id in rejected:
                self.waiters.wake(tx_id)
        return admissions

    def _admit_chunk(self, checked: list[Checked], local: bool) -> tuple[list[Admission], list[bytes]]:
        mempool = self._require_app().mempool
        now = self.clock()
        admissions = []
        for item in checked:
            if item.error is not None or item.tx is None:
                admissions.append(Admission(item.tx.id_hex if item.tx else None, REJECTED, error=item.error))
            else:
                admissions.append(mempool.admit(item.tx, now=now, size=item.size, remember_rejection=local,
                                                signature_verified=item.signature_verified))
        return admissions, mempool.drain_newly_rejected()

    def _notify_txs_available(self) -> None:
        """Wake the engine (once the consensus loop runs; before that, start() sees the mempool)."""
        if self._txs_available_queued or self._inbox is None or not self.participating or self._inbox.full():
            return
        self._txs_available_queued = True
        self._inbox.put_nowait(("txs_available",))

    def _queue_gossip(self, tx_bytes: list[bytes]) -> None:
        if self.gossip is not None:
            self.gossip.queue(tx_bytes)

    def _on_peer_connected(self, peer: str) -> None:
        # One mempool transfer per peer: a link that flaps restarts it rather than stacking copies.
        previous = self._mempool_senders.pop(peer, None)
        if previous is not None:
            previous.cancel()
        self._mempool_senders[peer] = asyncio.get_running_loop().create_task(self._send_mempool(peer))
        if self._session is not None:
            # Back from a partition on an idle network, no consensus message would tell this node
            # it is behind: ask the peer for blocks above our head (an empty page when we are not).
            self.sync.request(self._session, peer)

    async def _send_mempool(self, peer: str) -> None:
        app = self._require_app()
        txs = await self.in_state(app.mempool.snapshot)
        if self.gossip is not None:
            await self.gossip.send_mempool(peer, txs)

    def _require_app(self) -> NodeApplication:
        if self.app is None:
            raise RuntimeError("the node store is not open yet")  # a bug: the API starts after it
        return self.app

    async def _on_frame(self, peer: str, data: bytes) -> None:
        """Per connection, in order: consensus messages are decoded and queued for the engine (a
        full inbox slows that peer's socket down); gossip goes to the verification workers."""
        if looks_like_txs_frame(data):
            if len(self._tx_frames) >= TX_FRAME_QUEUE:
                self.metrics.gossip_dropped += 1
                return
            self._tx_frames.append((peer, data))
            if self._tx_frames_wake is not None:
                self._tx_frames_wake.set()
            return
        try:
            kind, message = await self._decode(data)
        except LedgerError as exc:
            self.metrics.bad_frames += 1
            logger.debug("bad frame from %s: %s", peer, exc.message)
            return
        if kind == TXS or self._inbox is None:
            self.metrics.bad_frames += 1
            return
        await self._inbox.put(("message", peer, message))

    async def _decode(self, data: bytes) -> tuple[str, Any]:
        """Decode off the state thread; a re-broadcast proposal (same bytes) is decoded only once."""
        loop = asyncio.get_running_loop()
        if len(data) < LARGE_FRAME:
            return await loop.run_in_executor(self._decode_pool, decode_frame, data)
        digest = hashlib.sha256(data).digest()
        cached = self._decoded.get(digest)
        if cached is not None:
            self._decoded.move_to_end(digest)
            return cached
        decoded = await loop.run_in_executor(self._decode_pool, decode_frame, data)
        self._decoded[digest] = decoded
        while len(self._decoded) > DECODED_CACHE:
            self._decoded.popitem(last=False)
        return decoded

    async def _tx_frame_worker(self) -> None:
        wake = self._tx_frames_wake
        if wake is None:
            return
        while True:
            while not self._tx_frames:
                wake.clear()
                await wake.wait()
            while self._inbox is not None and not self._inbox.empty():
                await asyncio.sleep(0.002)  # consensus first: gossip waits while the engine has work
            peer, data = self._tx_frames.popleft()
            try:
                checked = await self.in_verify(check_txs_frame, data, self.genesis.chain, self._is_known)
            except LedgerError as exc:
                self.metrics.bad_frames += 1
                logger.debug("bad txs frame from %s: %s", peer, exc.message)
                continue
            admissions = await self._admit_checked(checked, local=False)
            if any(admission.new for admission in admissions):
                self._notify_txs_available()

    async def query(self, contract: str, name: str, args: dict[str, Any]) -> Any:
        assert self.app is not None
        return await self.in_state(self.app.ledger.query, contract, name, args)

    # --- the consensus loop -----------------------------------------------------------------

    async def _consensus_loop(self) -> None:
        assert self._inbox is not None and self.engine is not None
        inbox = self._inbox
        try:
            while True:
                deadline = self.engine.next_deadline()
                timeout = None if deadline is None else max(0.0, (deadline - self.clock()) / 1000)
                items = await next_items(inbox, timeout, STEP_BATCH)
                if self._stop is not None and self._stop.is_set():
                    return  # shutting down: never step the engine (and sign) after the stop
                if any(item[0] == "txs_available" for item in items):
                    self._txs_available_queued = False
                result = await self.in_state(self._step, items)
                await self._execute(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  (a bug in the engine or runtime: stop, do not limp on)
            self._fail(exc)

    def _step(self, items: list[tuple[Any, ...]]) -> StepResult:
        """State thread: feed the engine everything queued, then fire due timers."""
        engine, app = self.engine, self.app
        assert engine is not None and app is not None
        now = self.clock()
        result = StepResult()
        outputs: list[Output] = []
        txs_new = False
        for item in items:
            kind = item[0]
            if kind == "message":
                outputs += engine.receive(item[2], item[1], now)
            elif kind == "txs_available":
                txs_new = True
            elif kind == "start":
                outputs += engine.start(now)
            elif kind == "sync_page":
                outputs += self._apply_sync_page(item[1], item[2], item[3], result, now)
        if txs_new:
            outputs += engine.txs_available(now)
        deadline = engine.next_deadline()
        if deadline is not None and now >= deadline:
            outputs += engine.tick(now)
        self._convert(outputs, result, now)
        result.rejected = app.mempool.drain_newly_rejected()
        return result

    def _apply_sync_page(self, peer: str, page: SyncPage, future: asyncio.Future[Any], result: StepResult,
                         now: int) -> list[Output]:
        """Feed fetched blocks to the engine as commit messages; it checks certificate and execution."""
        engine, app = self.engine, self.app
        assert engine is not None and app is not None
        outputs: list[Output] = []
        applied, error = 0, None
        for message in page.messages:
            if message.block.height <= app.height:
                continue
            before = app.height
            outputs += engine.receive(message, peer, now)
            if app.height == before:
                error = f"block {message.block.height} from {peer} was not accepted (certificate or execution)"
                break
            applied += 1
        result.actions.append(("resolve", future, (applied, error)))
        return outputs

    def _convert(self, outputs: list[Output], result: StepResult, now: int) -> None:
        """Turn engine outputs into loop actions; encode frames here, off the event loop."""
        for output in outputs:
            if isinstance(output, PersistSignerState):
                result.actions.append(("signer", output.state))
            elif isinstance(output, Broadcast):
                result.actions.append(("broadcast", encode_consensus_frame(output.message)))
            elif isinstance(output, SendTo):
                result.actions.append(("send", output.peer, encode_consensus_frame(output.message)))
            elif isinstance(output, Committed):
                result.actions.append(("committed", output.block, output.cert))
            elif isinstance(output, Evidence):
                self._report_evidence(output, result, now)
            elif isinstance(output, RequestSync):
                result.actions.append(("sync", output.peer, output.from_height))

    def _report_evidence(self, evidence: Evidence, result: StepResult, now: int) -> None:
        """Equivocation seen: submit a system evidence transaction signed by this node's key."""
        assert self.app is not None
        tx = make_tx(self.key, chain=self.genesis.chain, contract="system", type="evidence",
                     payload={"votes": [evidence.first.to_dict(), evidence.second.to_dict()]})
        admission = self.app.mempool.admit(tx, now=now)
        logger.warning("validator %s equivocated at height %s round %s: evidence tx %s %s",
                       evidence.first.validator, evidence.first.height, evidence.first.round, tx.id_hex,
                       admission.status)
        if admission.new:
            result.actions.append(("gossip", [tx.to_bytes()]))
            result.actions.append(("txs_available",))

    async def _execute(self, result: StepResult) -> None:
        """Carry out actions in order; a signer state is durable before any later send."""
        assert self.peers is not None
        signer: SignerState | None = None
        for action in result.actions:
            kind = action[0]
            if kind == "signer":
                signer = action[1]
                continue
            if signer is not None and kind in {"broadcast", "send"}:
                await self._save_signer(signer)
                signer = None
            if kind == "broadcast":
                self.peers.broadcast(action[1])
            elif kind == "send":
                self.peers.send_to(action[1], action[2])
            elif kind == "committed":
                self.persist(action[1], action[2])
            elif kind == "gossip":
                self._queue_gossip(action[1])
            elif kind == "txs_available":
                self._notify_txs_available()
            elif kind == "sync" and self._session is not None:
                self.sync.request(self._session, action[1])
            elif kind == "resolve" and not action[1].done():
                action[1].set_result(action[2])
        if signer is not None:
            await self._save_signer(signer)
        for tx_id in result.rejected:
            self._admitted_at.pop(tx_id, None)
            self.waiters.wake(tx_id)

    # --- persistence ------------------------------------------------------------------------

    async def _save_signer(self, state: SignerState) -> None:
        """Durable before the caller sends anything (file, own thread); the database copy follows behind."""
        await asyncio.get_running_loop().run_in_executor(self._signer_io, write_signer_state, self._signer_path, state)
        copy = self._db.submit(call_with_reconnect, services.save_signer_state, state)
        copy.add_done_callback(_log_failed_signer_copy)

    def persist(self, block: Block, cert: CommitCertificate) -> None:
        """Queue the block write (height order is the executor's order); wake waiters once stored."""
        future = asyncio.get_running_loop().run_in_executor(
            self._db, call_with_reconnect, services.persist_block, block, cert)
        future.add_done_callback(lambda done: self._on_persisted(block, done))

    def _on_persisted(self, block: Block, done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            self._fail(exc)
            return
        now = self.clock()
        self.persisted_height = max(self.persisted_height, block.height)
        self.last_commit_wall = now
        self.metrics.record_block(now_ms=now, txs=len(block.txs),
                                  votes=sum(1 for tx in block.txs if is_vote(tx.contract, tx.type)),
                                  latency_s=max(0, now - block.header.time) / 1000)
        logger.info("stored block %s (%s txs, round %s, %s ms after its timestamp)", block.height, len(block.txs),
                    block.header.round, now - block.header.time)
        for tx in block.txs:
            admitted = self._admitted_at.pop(tx.id, None)
            if admitted is not None:
                self.metrics.tx_latency.observe(max(0, now - admitted) / 1000)
            self.waiters.wake(tx.id)

    # --- sync (see ChainSync) -------------------------------------------------------------------

    def commit_page_direct(self, page: SyncPage) -> list[tuple[Block, CommitCertificate]]:
        """State thread, before the engine exists: verify and commit fetched blocks in order."""
        app = self._require_app()
        committed = []
        for message in page.messages:
            if message.block.height <= app.height:
                continue
            app.verify_and_commit(message.block, message.cert)
            committed.append((message.block, message.cert))
        return committed

    async def feed_sync_page(self, peer: str, page: SyncPage) -> tuple[int, str | None]:
        """Queue fetched blocks for the engine; returns (blocks applied, error)."""
        if self._inbox is None:
            return 0, "the node is not running"
        future: asyncio.Future[tuple[int, str | None]] = asyncio.get_running_loop().create_future()
        await self._inbox.put(("sync_page", peer, page, future))
        return await future
