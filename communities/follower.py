"""Following the ledger for the statistics engine: one follower per process, one push loop per event loop.

Why polling: blocks are committed on the nodes, not in this web app, and a node's
``GET /v1/blocks?from=<next>`` answers an empty page cheaply when nothing is new, so one
request per interval (``COMMUNITY_STATS["REFRESH_SECONDS"]``, 0.5 s by default) is the
whole cost of waiting. Why one follower: the engine holds every poll of the chain, so the
process reads each block once whatever the number of dashboards; web views (page, exports)
call ``catch_up`` too, so an export always includes the newest committed block.

Why the push is a group send of a small notice: with 1,000 sockets on a poll the follower
must not do anything per client. It builds each changed poll's update once, serialises it
once into this process's short list of recent updates (numbered per poll), and sends the
group ``get_poll_group(poll)`` a notice of a few bytes; each consumer then forwards, from
its own process's list, every update after the last one it sent (or a fresh snapshot if it
fell so far behind that the list no longer reaches back). The update text never crosses the
channel layer: every worker builds the same update from the same blocks anyway, so sending
it through Redis would only add a serialise / deserialise round per worker. With several
ASGI workers every worker's follower follows the ledger and notifies the group; a consumer
woken by another worker's notice finds nothing new in its own list (or forwards what its own
follower built), so a page never sees an update twice, and the numbering lets a consumer
that missed a notice catch up at the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from ledger.client import NodeClient
from ledger.config import get_ledger_settings

from .stats import PollStats, StatsEngine
from .stats_export import build_snapshot, build_update, dumps, is_results_visible

logger = logging.getLogger(__name__)
UPDATE_EVENT = "stats.update"
PAGE_BLOCKS = 100
RECENT_UPDATES = 32  # per poll: how far back a consumer that was slow to wake can still catch up


def get_refresh_seconds() -> float:
    raw = getattr(settings, "COMMUNITY_STATS", {}) or {}
    return max(0.05, float(raw.get("REFRESH_SECONDS", 0.5)))


def get_poll_group(poll: str) -> str:
    """Channels group of a ledger poll id (ids may hold ':' which group names may not)."""
    return "community-stats." + hashlib.sha256(poll.encode()).hexdigest()[:32]


class LedgerFollower:
    """The process's statistics engine and where it stands on the chain; thread-safe."""

    def __init__(self, client_factory: Callable[[], NodeClient]) -> None:
        self.client_factory = client_factory
        self.engine = StatsEngine()
        self.head_hash = ""
        self.lock = threading.RLock()
        self._changed: dict[str, set[str]] = {}
        self._snapshots: dict[tuple[str, int, bool], str] = {}
        self._recent: dict[str, deque[tuple[int, int, str]]] = {}  # poll -> (number, height, text), oldest first
        self._recent_lock = threading.Lock()  # consumers read recent updates on the event loop: never wait on the engine
        self._numbers: dict[str, int] = {}  # poll -> number of the last update built

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

    def _reset(self) -> None:
        self.engine = StatsEngine()
        self.head_hash = ""
        self._changed = {poll: set() for poll in self._changed}
        self._snapshots.clear()
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
        """Build and keep the update of ``poll``'s changed ``units``; returns its number (None if unknown poll)."""
        with self.lock:
            stats = self.engine.polls.get(poll)
            if stats is None:
                return None
            text = dumps(build_update(stats, units, is_results_visible(stats, live_results)))
            with self._recent_lock:
                number = self._numbers[poll] = self._numbers.get(poll, 0) + 1
                self._recent.setdefault(poll, deque(maxlen=RECENT_UPDATES)).append((number, stats.height, text))
            return number

    def updates_after(self, poll: str, number: int) -> tuple[int, list[tuple[int, str]]] | None:
        """(last number, (height, text) of the updates after ``number``), or None if some are no longer kept."""
        with self._recent_lock:
            recent = self._recent.get(poll)
            if not recent or recent[-1][0] <= number:
                return number, []
            if recent[0][0] > number + 1:
                return None
            return recent[-1][0], [(height, text) for n, height, text in recent if n > number]


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


@database_sync_to_async
def get_live_flags(polls: list[str]) -> dict[str, bool]:
    """Per ledger poll id, whether its Django poll shows results while open (unknown polls: no)."""
    from .models import Poll

    return dict(Poll.objects.filter(ledger_id__in=polls).values_list("ledger_id", "live_results"))


@dataclass
class PushLoop:
    """Follows the ledger while sockets of this event loop watch at least one poll; pushes per changed poll."""

    watched: dict[str, int] = field(default_factory=dict)  # ledger poll id -> local sockets
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        layer = get_channel_layer()
        while self.watched:
            try:
                await self.step(layer)
            except Exception:  # a background loop must survive a node outage; the next round may succeed
                logger.exception("community statistics follower round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=get_refresh_seconds())
            self.wake.clear()

    async def step(self, layer: Any) -> int:
        """One round: catch up, then one group send per changed and watched poll; returns the sends."""
        follower = get_follower()
        await asyncio.to_thread(follower.catch_up)
        changed = {poll: units for poll, units in follower.drain().items() if poll in self.watched}
        if not changed:
            return 0
        flags = await get_live_flags(sorted(changed))
        for poll, units in changed.items():
            number = await asyncio.to_thread(follower.build_update, poll, units, flags.get(poll, False))
            if number is not None:
                await layer.group_send(get_poll_group(poll), {"type": UPDATE_EVENT, "poll": poll})
        return len(changed)


_loops: dict[int, PushLoop] = {}


def watch(poll: str) -> PushLoop:
    """Count a socket of this event loop as watching ``poll``; start the loop with the first one."""
    loop = _loops.get(id(asyncio.get_running_loop()))
    if loop is None:
        loop = _loops[id(asyncio.get_running_loop())] = PushLoop()
    loop.watched[poll] = loop.watched.get(poll, 0) + 1
    if loop.task is None or loop.task.done():
        loop.task = asyncio.get_running_loop().create_task(loop.run())
    return loop


async def unwatch(poll: str) -> None:
    """The last socket of a poll stops pushing it; the last socket of the loop stops the loop."""
    key = id(asyncio.get_running_loop())
    loop = _loops.get(key)
    if loop is None:
        return
    remaining = loop.watched.get(poll, 0) - 1
    if remaining > 0:
        loop.watched[poll] = remaining
        return
    loop.watched.pop(poll, None)
    if not loop.watched:
        _loops.pop(key, None)
        if loop.task is not None:
            loop.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop.task
