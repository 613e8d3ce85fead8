"""Following the ledger for the statistics engine: one follower per process, one push loop per event loop.

Why polling: blocks are committed on the nodes, not in this web app, and a node's
``GET /v1/blocks?from=<next>`` answers an empty page cheaply when nothing is new, so one
request per interval (``COMMUNITY_STATS["REFRESH_SECONDS"]``, 0.2 s by default) is the
whole cost of waiting. Why one follower: the engine holds every poll of the chain, so the
process reads each block once whatever the number of dashboards; web views (page, exports)
call ``catch_up`` too, so an export always includes the newest committed block.

Why the follower does nothing per client: with 1,000 sockets on a poll, it builds each
changed poll's update once, as JSON fragments per changed unit (communities.stats_export
``UpdateParts``), keeps it in this process's short list of recent updates (numbered per
poll), and wakes this process's sockets of the poll (an ``asyncio.Event`` each). Each socket
then takes every update after the last one it sent and forwards its own view's frame (the
changed units among the unit it shows and that unit's children), composed once per (poll,
update, view) and shared by every socket on the same view (``shared_text``, bounded LRU), or
a fresh view frame if it fell so far behind that the list no longer reaches back.

Why no channel layer: a socket only forwards updates its own process built (every worker
builds the same updates from the same blocks), so a notice from another worker never had
anything new for it. With several ASGI workers each worker's follower follows the ledger and
wakes its own sockets; the numbering lets a socket that was slow to wake catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import gc
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from ledger.client import NodeClient
from ledger.config import get_ledger_settings

from .stats import PollStats, StatsEngine
from .stats_export import (
    UpdateParts,
    build_snapshot,
    build_update_parts,
    build_view,
    compose_update,
    dumps,
    get_view_units,
    is_results_visible,
)

logger = logging.getLogger(__name__)
PAGE_BLOCKS = 100
RECENT_UPDATES = 32  # per poll: how far back a consumer that was slow to wake can still catch up
SHARED_TEXTS = 1024  # view and per-view update frames kept for the next socket on the same view (LRU)
FREEZE_AFTER_BLOCKS = PAGE_BLOCKS  # a catch-up this long loaded a chain: move its objects out of the GC's sight


def get_refresh_seconds() -> float:
    raw = getattr(settings, "COMMUNITY_STATS", {}) or {}
    return max(0.05, float(raw.get("REFRESH_SECONDS", 0.2)))


class LedgerFollower:
    """The process's statistics engine and where it stands on the chain; thread-safe."""

    def __init__(self, client_factory: Callable[[], NodeClient]) -> None:
        self.client_factory = client_factory
        self.engine = StatsEngine()
        self.head_hash = ""
        self.lock = threading.RLock()
        self._changed: dict[str, set[str]] = {}
        self._snapshots: dict[tuple[str, int, bool], str] = {}
        self._recent: dict[str, deque[UpdateParts]] = {}  # poll -> recent updates, oldest first
        self._recent_lock = threading.Lock()  # consumers read recent updates on the event loop: never wait on the engine
        self._numbers: dict[str, int] = {}  # poll -> number of the last update built
        self._pushed_state: dict[str, tuple[str, bool]] = {}  # poll -> (status, results visible) of the last update
        self._texts: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # shared frames, see shared_text
        self._texts_lock = threading.Lock()
        self.frozen = False
        self.epoch = object()  # replaced when the chain changes: a socket from before needs a new snapshot

    def catch_up(self) -> int:
        """Apply every block committed since the last call; returns how many were applied.

        A block whose ``prev`` is not the block applied before it means the configured node
        runs another chain (a reset demo, another test network): start over from height 1.
        """
        client = self.client_factory()
        applied = 0
        while True:
            start = self.engine.height + 1
            page = client.blocks(start, PAGE_BLOCKS)["blocks"]  # outside the lock: readers need not wait for a node
            if not page:
                if applied >= FREEZE_AFTER_BLOCKS and not self.frozen:
                    self._freeze()
                return applied
            with self.lock:
                if self.engine.height + 1 != start:  # another thread applied these meanwhile
                    continue
                if self.head_hash and page[0]["block"]["header"]["prev"] != self.head_hash:
                    logger.warning("the ledger's chain changed under the statistics follower; starting over")
                    self._reset()
                    continue
                for entry in page:
                    for poll in self.engine.apply_block(entry):
                        stats = self.engine.polls[poll]
                        self._changed.setdefault(poll, set()).update(stats.changed_units)
                        stats.changed_units = set()
                    self.head_hash = entry["hash"]
                    applied += 1

    def _freeze(self) -> None:
        """Move everything loaded so far to the GC's permanent generation, once per follower.

        A loaded chain leaves tens of thousands of long-lived tracked objects (figures, dicts of
        totals and rankings; ~39,000 for 100,000 voters) that every full collection would walk
        again, 18 ms each at load 12; during a push that pause lands between a block and its
        frames. Frozen objects are still freed by reference counting.
        """
        gc.collect()
        gc.freeze()
        self.frozen = True

    def _reset(self) -> None:
        self.engine = StatsEngine()
        self.head_hash = ""
        self._changed = {poll: set() for poll in self._changed}
        self._snapshots.clear()
        self._pushed_state.clear()
        self.epoch = object()
        with self._texts_lock:
            self._texts.clear()
        with self._recent_lock:
            self._recent.clear()
            # Skip a number: every socket then sees a gap and gets a snapshot of the new chain.
            self._numbers = {poll: number + 1 for poll, number in self._numbers.items()}

    def drain(self) -> dict[str, set[str]]:
        """Polls changed since the last drain, with the units whose figures changed."""
        with self.lock:
            changed, self._changed = self._changed, {}
            return changed

    def get_poll(self, poll: str) -> PollStats | None:
        return self.engine.polls.get(poll)

    def read(self, poll: str, build: Callable[[PollStats], Any]) -> Any:
        """``build(stats)`` under the lock (results are computed lazily, so reads mutate caches); None if unknown."""
        with self.lock:
            stats = self.engine.polls.get(poll)
            return None if stats is None else build(stats)

    def snapshot_text(self, poll: str, live_results: bool) -> str | None:
        """The serialised snapshot, built once per (height, visibility) and shared by every socket."""
        with self.lock:
            stats = self.engine.polls.get(poll)
            if stats is None:
                return None
            visible = is_results_visible(stats, live_results)
            key = (poll, stats.height, visible)
            text = self._snapshots.get(key)
            if text is None:
                self._snapshots = {k: v for k, v in self._snapshots.items() if k[0] != poll}
                text = self._snapshots[key] = dumps(build_snapshot(stats, visible))
            return text

    def snapshot_for_socket(self, poll: str, live_results: bool) -> tuple[int, int, str] | None:
        """(number of the last update built, height, snapshot text): the socket forwards only later updates."""
        with self.lock:
            text = self.snapshot_text(poll, live_results)
            if text is None:
                return None
            return self._numbers.get(poll, 0), self.engine.polls[poll].height, text

    def build_update(self, poll: str, units: set[str], live_results: bool) -> int | None:
        """Build and keep the update of ``poll``'s changed ``units``; returns its number (None if unknown poll).

        When the status or the results' visibility changed since the last update (opened,
        closed), every unit goes: each page must then show results it did not have before.
        """
        with self.lock:
            stats = self.engine.polls.get(poll)
            if stats is None:
                return None
            visible = is_results_visible(stats, live_results)
            state = (stats.status, visible)
            if self._pushed_state.get(poll, state) != state:
                units = set(stats.order)
            self._pushed_state[poll] = state
            with self._recent_lock:
                number = self._numbers.get(poll, 0) + 1
            parts = build_update_parts(stats, units, visible, number)
            with self._recent_lock:
                self._numbers[poll] = number
                self._recent.setdefault(poll, deque(maxlen=RECENT_UPDATES)).append(parts)
            return number

    def updates_after(self, poll: str, number: int) -> tuple[int, list[UpdateParts]] | None:
        """(last number, the updates after ``number``), or None if some are no longer kept."""
        with self._recent_lock:
            recent = self._recent.get(poll)
            if not recent or recent[-1].number <= number:
                return number, []
            if recent[0].number > number + 1:
                return None
            return recent[-1].number, [parts for parts in recent if parts.number > number]

    def shared_text(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """``build()`` once per key for every socket of the process (LRU of SHARED_TEXTS entries).

        1,000 sockets on one view then share one string per update; the bound keeps a page that
        walks through every unit from growing the cache without limit.
        """
        with self._texts_lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        value = build()  # outside the lock: a view frame waits for the engine's lock
        with self._texts_lock:
            self._texts[key] = value
            self._texts.move_to_end(key)
            while len(self._texts) > SHARED_TEXTS:
                self._texts.popitem(last=False)
        return value

    def update_text(self, poll: str, parts: UpdateParts, view: str) -> str | None:
        """The frame of update ``parts`` for a socket viewing ``view``: None when the view shows no changed unit."""
        def build() -> str | None:
            stats = self.engine.polls.get(poll)
            units = get_view_units(stats, view) if stats is not None and view in stats.parent else [view]
            return compose_update(parts, view, units)

        return self.shared_text(("update", poll, parts.number, view), build)  # type: ignore[no-any-return]

    def view_for_socket(self, poll: str, unit: str, live_results: bool) -> tuple[int, int, str] | None:
        """(number of the last update built, height, view frame text) of ``unit``; None if no such poll or unit.

        Keyed by the update number and height it was built at, so a cached frame is never
        older than the updates a socket will be told to skip.
        """
        stats = self.engine.polls.get(poll)
        if stats is None or unit not in stats.parent:
            return None
        visible = is_results_visible(stats, live_results)
        key = ("view", poll, self._numbers.get(poll, 0), stats.height, unit, visible)

        def build() -> tuple[int, int, str] | None:
            with self.lock:
                current = self.engine.polls.get(poll)
                if current is None or unit not in current.parent:
                    return None
                shown = is_results_visible(current, live_results)
                return (self._numbers.get(poll, 0), current.height, dumps(build_view(current, unit, shown)))

        with self._texts_lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]  # type: ignore[no-any-return]
        built = build()
        if built is not None and (built[0], built[1]) == (key[2], key[3]):
            self.shared_text(key, lambda: built)
        return built


_followers: dict[tuple[str, ...], LedgerFollower] = {}
_followers_lock = threading.Lock()


def get_follower() -> LedgerFollower:
    """The follower of the configured nodes (a new one if the node list changed, as tests do)."""
    urls = get_ledger_settings().node_urls
    with _followers_lock:
        follower = _followers.get(urls)
        if follower is None:
            _followers.clear()
            follower = _followers[urls] = LedgerFollower(NodeClient.from_settings)
        return follower


def read_live_flags(polls: list[str]) -> dict[str, bool]:
    """Per ledger poll id, whether its Django poll shows results while open (unknown polls: no).

    Not on the shared thread-sensitive executor: the sockets' access re-checks queue there
    (1,000 sockets: ~50 a second), and every block's push waits for this one query.
    """
    from .models import Poll

    return dict(Poll.objects.filter(ledger_id__in=polls).values_list("ledger_id", "live_results"))


get_live_flags = database_sync_to_async(read_live_flags, thread_sensitive=False)


@dataclass
class PushLoop:
    """Follows the ledger while sockets of this event loop watch at least one poll; wakes them per update.

    The wake is a call in this process (each socket's ``asyncio.Event``), not a channel-layer
    group send: a socket only ever forwards updates its own process built, so a notice from
    another worker never had anything new for it, and 1,000 notices through Redis cost a
    round of encode / store / fetch / decode per socket on every block.
    """

    wakers: dict[str, set[Callable[[], None]]] = field(default_factory=dict)  # ledger poll id -> local sockets
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while self.wakers:
            try:
                await self.step()
            except Exception:  # a background loop must survive a node outage; the next round may succeed
                logger.exception("community statistics follower round failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can drop a cancellation (CPython
            # gh-86296), and this loop must stop when the worker shuts down.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(get_refresh_seconds()):
                    await self.wake.wait()
            self.wake.clear()

    async def step(self) -> int:
        """One round: catch up, then build each changed and watched poll's update and wake its sockets."""
        follower = get_follower()
        await asyncio.to_thread(follower.catch_up)
        changed = {poll: units for poll, units in follower.drain().items() if poll in self.wakers}
        if not changed:
            return 0
        flags = await get_live_flags(sorted(changed))
        for poll, units in changed.items():
            number = await asyncio.to_thread(follower.build_update, poll, units, flags.get(poll, False))
            if number is not None:
                for wake in list(self.wakers.get(poll, ())):
                    wake()
        return len(changed)


_loops: dict[int, PushLoop] = {}


def watch(poll: str, wake: Callable[[], None]) -> PushLoop:
    """Register a socket of this event loop watching ``poll`` (``wake`` after each update); the first starts the loop."""
    loop = _loops.get(id(asyncio.get_running_loop()))
    if loop is None:
        loop = _loops[id(asyncio.get_running_loop())] = PushLoop()
    loop.wakers.setdefault(poll, set()).add(wake)
    if loop.task is None or loop.task.done():
        loop.task = asyncio.get_running_loop().create_task(loop.run())
    return loop


async def unwatch(poll: str, wake: Callable[[], None]) -> None:
    """The last socket of a poll stops pushing it; the last socket of the loop stops the loop."""
    key = id(asyncio.get_running_loop())
    loop = _loops.get(key)
    if loop is None:
        return
    remaining = loop.wakers.get(poll, set())
    remaining.discard(wake)
    if remaining:
        return
    loop.wakers.pop(poll, None)
    if not loop.wakers:
        _loops.pop(key, None)
        if loop.task is not None:
            loop.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop.task
