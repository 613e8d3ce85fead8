"""ws/communities/polls/<poll>/stats/: a poll's live statistics, per view (docs/community-statistics.md).

On connect the socket gets ``{"type": "snapshot", ...}`` (the whole unit tree, so the page
can name and drill into every unit) and its view is the root. The page sends
``{"type": "view", "unit": "<id>"}`` when the user drills down or up; the answer is a
``{"type": "view", ...}`` frame with fresh figures of that unit, its breadcrumb and its
children, and from then on each ``{"type": "update", ...}`` carries only the changed units
among the unit and its children (no frame at all when none of them changed). Why: a
dashboard shows one unit and its children, and the whole changed tree sent to every socket
was ~20 kB per block per client, 20 MB per block for 1,000 sockets.

The push loop (communities.follower) wakes this process's sockets of the poll after each
update it built; each takes, from the process's recent updates, every one after the last it
sent, and forwards each as its view's frame (texts shared by every socket on the same view),
or a fresh view frame if those updates are no longer all kept.

A bad message (not JSON, not a view message, over MAX_MESSAGE_CHARS) gets
``{"type": "error", "code": "message_malformed"}``, an unknown unit
``{"type": "error", "code": "view_unknown_unit"}``; neither changes the view. The socket is
closed (1008) only after MAX_BAD_MESSAGES of them: a page never sends one, so that many is abuse.

Close codes: 4401 when nobody is signed in (neither a member session nor a user), 4403 when
the caller may not watch this poll or it does not exist (the two look alike), 4404 when the
poll is not on the ledger yet (a published poll whose create block is still coming: retry).
Access is re-checked by a timer every 0.5 to 1 × ACCESS_RECHECK_SECONDS (at random: 1,000 sockets
opened together must not query together), so a member removed from the scope is closed within
that time, without a query per push and off the path of the frames; an update that finds the
last check overdue (the timer lagging) checks before it is forwarded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser

from . import follower
from .stats_access import StatsNotVisible, StatsSignInRequired, access_poll_statistics, get_member_id

logger = logging.getLogger(__name__)
SIGN_IN_REQUIRED, FORBIDDEN, NOT_ON_LEDGER, POLICY_VIOLATION = 4401, 4403, 4404, 1008
ACCESS_RECHECK_SECONDS = 30.0
MAX_MESSAGE_CHARS = 512  # a view message is ~40 characters; unit ids are short ledger strings
MAX_BAD_MESSAGES = 20

# Error codes of the socket's error frames (the socket's own protocol, next to its consumer).
MESSAGE_MALFORMED = "message_malformed"
VIEW_UNKNOWN_UNIT = "view_unknown_unit"
ERROR_MESSAGES = {
    MESSAGE_MALFORMED: "Expected a JSON object {\"type\": \"view\", \"unit\": \"<unit id>\"}.",
    VIEW_UNKNOWN_UNIT: "This poll has no such unit.",
}


class PollStatsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        self.ledger_id = str(self.scope["url_route"]["kwargs"]["poll"])
        self.sent = 0  # number of the last update (communities.follower) this socket has
        self.view: str | None = None  # the unit the page shows; None: the root
        self.bad_messages = 0
        code, self.live = await self._check()
        if code:
            await self.close(code=code)
            return
        await self.accept()
        self.lock = asyncio.Lock()  # forwarding and a view switch both move self.sent: one at a time
        self.woken = asyncio.Event()
        self.loop = follower.watch(self.ledger_id, self.woken.set)
        if not await self._send_snapshot(catch_up=True):
            await self.close(code=NOT_ON_LEDGER)
            return
        running = asyncio.get_running_loop()
        self.tasks = [running.create_task(self._forward_updates()), running.create_task(self._recheck_access())]

    async def _forward_updates(self) -> None:
        """Woken by the push loop after each update it built: forward what this socket lacks.

        One task per socket (not one loop over every socket) because a send waits while the
        client's connection is full: a slow page must not hold up the others.
        """
        try:
            while True:
                await self.woken.wait()
                self.woken.clear()
                async with self.lock:
                    if await self._forward():
                        return
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket broke under a send; disconnect() cleans up, the log keeps any bug
            logger.exception("community statistics socket stopped forwarding")

    async def _recheck_access(self) -> None:
        """Close the socket once the caller may no longer watch the poll (timer: see the module docstring)."""
        while True:
            await asyncio.sleep(max(0.5, ACCESS_RECHECK_SECONDS * random.uniform(0.5, 1.0)))
            code, self.live = await self._check()
            if code:
                await self.close(code=code)
                return

    async def _send_snapshot(self, *, catch_up: bool) -> bool:
        snapshot = await database_sync_to_async(self._snapshot)(catch_up)
        if snapshot is None:
            return False
        self.sent, self.sent_height, text, self.tree_size, self.epoch = snapshot
        self.view = None
        await self.send(text_data=text)
        return True

    def _view_unit(self) -> str | None:
        if self.view is not None:
            return self.view
        stats = follower.get_follower().get_poll(self.ledger_id)
        return stats.root if stats is not None else None

    async def _send_view(self, unit: str) -> bool:
        """Send ``unit``'s view frame and make it this socket's view; False if the poll has no such unit."""
        frame = await asyncio.to_thread(follower.get_follower().view_for_socket, self.ledger_id, unit, self.live)
        if frame is None:
            return False
        self.sent, self.sent_height, text = frame
        self.view = unit
        await self.send(text_data=text)
        return True

    async def _send_error(self, code: str, detail: dict[str, Any]) -> None:
        self.bad_messages += 1
        if self.bad_messages > MAX_BAD_MESSAGES:
            await self.close(code=POLICY_VIOLATION)
            return
        await self.send(text_data=json.dumps({"type": "error", "code": code, "message": ERROR_MESSAGES[code],
                                              "detail": detail}, ensure_ascii=False, separators=(",", ":")))

    def _snapshot(self, catch_up: bool) -> tuple[int, int, str, int, object] | None:
        """(number of the last update, height, the shared snapshot text, units, chain epoch), the follower first brought up to date."""
        the_follower = follower.get_follower()
        if catch_up:
            the_follower.catch_up()
        with the_follower.lock:
            snapshot = the_follower.snapshot_for_socket(self.ledger_id, self.live)
            stats = the_follower.get_poll(self.ledger_id)
            if snapshot is None or stats is None:
                return None
            return (*snapshot, len(stats.parent), the_follower.epoch)

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "tasks", ()):
            task.cancel()
        if hasattr(self, "loop"):
            await follower.unwatch(self.ledger_id, self.woken.set)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A ``view`` message: answer with the unit's view frame; anything else gets a typed error frame."""
        if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
            await self._send_error(MESSAGE_MALFORMED, {"max_chars": MAX_MESSAGE_CHARS})
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            message = None
        unit = message.get("unit") if isinstance(message, dict) and message.get("type") == "view" else None
        if not isinstance(unit, str):
            await self._send_error(MESSAGE_MALFORMED, {"max_chars": MAX_MESSAGE_CHARS})
            return
        async with self.lock:
            found = await self._send_view(unit)
        if not found:
            await self._send_error(VIEW_UNKNOWN_UNIT, {"unit": unit[:100]})

    async def _forward(self) -> bool:
        """Send this view's frames of the updates after the last one sent; True once the socket was closed."""
        pending = follower.get_follower().updates_after(self.ledger_id, self.sent)
        if pending is not None and not pending[1]:
            return False
        if time.monotonic() >= self.checked_at + ACCESS_RECHECK_SECONDS:  # the timer is late: check first
            code, self.live = await self._check()
            if code:
                await self.close(code=code)
                return True
        the_follower = follower.get_follower()
        view = self._view_unit()
        if the_follower.epoch is not self.epoch or view is None:  # another chain: its tree may differ
            await self._send_snapshot(catch_up=False)
            return False
        if pending is None:  # fell behind the kept updates: a fresh view frame, not a replay
            if not await self._send_view(view):
                await self._send_snapshot(catch_up=False)
            return False
        self.sent, updates = pending
        for parts in updates:
            if parts.tree_size != self.tree_size:  # units were added: the page needs their names
                await self._send_snapshot(catch_up=False)
                return False
            if parts.height > self.sent_height:  # an update built just after the snapshot may hold nothing newer
                self.sent_height = parts.height
                text = the_follower.update_text(self.ledger_id, parts, view)
                if text is not None:
                    await self.send(text_data=text)
        return False

    def _access(self) -> Any:
        return access_poll_statistics(self.scope.get("user") or AnonymousUser(),
                                      get_member_id(self.scope.get("session")), self.ledger_id)

    async def _check(self) -> tuple[int, bool]:
        """(close code or 0, the poll's live-results flag), and remember when access was last checked."""
        self.checked_at = time.monotonic()
        try:
            poll = await database_sync_to_async(self._access)()
        except StatsSignInRequired:
            return SIGN_IN_REQUIRED, False
        except StatsNotVisible:
            return FORBIDDEN, False
        return 0, poll.live_results
