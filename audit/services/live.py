"""The observer dashboard's live feed: one watcher per election and process polls the nodes for everyone.

Why polling, and why one watcher: the ledger advances on the nodes, not in this web app
(kiosks and phones submit votes straight to a node), so nothing here is told when a block
is committed. Each node's ``/v1/status`` is cheap, so a watcher asks every configured node
every ``AUDIT["REFRESH_SECONDS"]`` and re-reads the contract state only when some node's
height, head or reachability changed; the site's own counts (six small queries) are read
every round, and a snapshot is pushed only when either side changed. One watcher per
election serves every dashboard connected to this process, so fifty observers cost the
nodes what one does. Check-ins are also announced by the voting app on its turnout group;
the consumer forwards those as a nudge, so a check-in shows at once.

With several ASGI workers (Redis layer) each worker runs its own watcher for its own
sockets: the snapshot goes to its local consumers only, never through a shared group, so
nobody receives duplicates and no large message crosses Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone, translation

from voting.models import Election

from ..config import get_audit_settings
from ..rendering import render_sections
from ..selectors import ElectionRef, Snapshot, assemble_snapshot, gather_ledger_facts
from ..selectors.ledger_facts import ChainFacts, NodeFacts, fetch_statuses, get_node_client
from ..selectors.site_facts import SiteFacts, get_site_facts

logger = logging.getLogger(__name__)
SNAPSHOT_EVENT = "audit.snapshot"


def get_status_fingerprint(statuses: dict[str, Any]) -> tuple[Any, ...]:
    """Height and head of every node, or that it is down: a change means a new snapshot is due."""
    return tuple(
        (url, status.get("height"), status.get("head_hash")) if isinstance(status, dict) else (url, "down")
        for url, status in sorted(statuses.items())
    )


@database_sync_to_async
def load_site(election_id: int) -> tuple[ElectionRef, SiteFacts] | None:
    election = Election.objects.filter(pk=election_id).first()
    if election is None:
        return None
    return ElectionRef.of(election), get_site_facts(election)


@dataclass
class ElectionWatch:
    """Polls the nodes for one election while at least one dashboard of this process watches it."""

    election_id: int
    subscribers: set[str] = field(default_factory=set)
    snapshot: Snapshot | None = None
    version: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _forced: bool = True
    _fingerprint: tuple[Any, ...] = ()
    _facts: tuple[NodeFacts, ChainFacts] | None = None
    _site: tuple[ElectionRef, SiteFacts] | None = None
    _task: asyncio.Task[None] | None = None
    _rendered: dict[str, dict[str, Any]] = field(default_factory=dict)

    def poke(self) -> None:
        """Re-read the ledger now even if no node moved (a check-in was just recorded)."""
        self._forced = True
        self._wake.set()

    def message_for(self, language: str) -> dict[str, Any] | None:
        """The current snapshot as a websocket message in ``language`` (rendered once per version and language)."""
        if self.snapshot is None:
            return None
        cached = self._rendered.get(language)
        if cached is None or cached["version"] != self.version:
            with translation.override(language):
                data = self.snapshot.to_dict()
                html = {name: str(fragment) for name, fragment in render_sections(data).items()}
            cached = self._rendered[language] = {"type": "snapshot", "version": self.version, "data": data, "html": html}
        return cached

    async def run(self) -> None:
        layer = get_channel_layer()
        while self.subscribers:
            try:
                if await self._poll():
                    for channel in list(self.subscribers):
                        await layer.send(channel, {"type": SNAPSHOT_EVENT, "version": self.version})
            except Exception:  # a background loop must survive a bad poll; the next one may succeed
                logger.exception("observer watch of election %s failed", self.election_id)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can drop a cancellation
            # (CPython gh-86296), and this loop must stop when the last watcher leaves.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(get_audit_settings().refresh_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def _poll(self) -> bool:
        """One round: node heads and the site's counts; the contract state is re-read only when a node moved.

        Returns whether the snapshot changed. Site facts are a handful of counting queries, so
        a change the ledger does not see (a result stored or published, a credential issued)
        reaches the dashboards within one interval too.
        """
        client = get_node_client()
        statuses = await sync_to_async(fetch_statuses, thread_sensitive=False)(client)
        loaded = await load_site(self.election_id)
        if loaded is None:  # the election was deleted: nothing to watch
            return False
        ref, site = loaded
        fingerprint = get_status_fingerprint(statuses)
        ledger_moved = self._facts is None or fingerprint != self._fingerprint or self._forced
        if ledger_moved:
            self._facts = await sync_to_async(gather_ledger_facts, thread_sensitive=False)(
                ref, client=client, statuses=statuses)
            self._fingerprint, self._forced = fingerprint, False
        if not ledger_moved and (ref, site) == self._site:
            return False
        self._site = (ref, site)
        if self._facts is None:
            return False
        nodes, chain = self._facts
        self.snapshot = assemble_snapshot(ref, nodes, chain, site, timezone.now())
        self.version += 1
        return True


_watches: dict[tuple[int, int], ElectionWatch] = {}


def _key(election_id: int) -> tuple[int, int]:
    # Per event loop: tests run each communicator in its own loop, and a task belongs to one loop.
    return id(asyncio.get_running_loop()), election_id


def subscribe(election_id: int, channel_name: str) -> ElectionWatch:
    """Add a consumer to the election's watch, starting the watch if it is the first one."""
    watch = _watches.get(_key(election_id))
    if watch is None:
        watch = _watches[_key(election_id)] = ElectionWatch(election_id)
    watch.subscribers.add(channel_name)
    if watch._task is None or watch._task.done():
        watch._task = asyncio.get_running_loop().create_task(watch.run())
    return watch


async def unsubscribe(election_id: int, channel_name: str) -> None:
    """Remove a consumer; the last one out stops the watch."""
    key = _key(election_id)
    watch = _watches.get(key)
    if watch is None:
        return
    watch.subscribers.discard(channel_name)
    if not watch.subscribers:
        _watches.pop(key, None)
        if watch._task is not None:
            watch._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch._task
