"""ws/communities/polls/<poll>/stats/: a poll's live statistics (read-only).

On connect the socket gets ``{"type": "snapshot", ...}`` (the whole unit tree), then one
``{"type": "update", ...}`` per round in which the follower saw the poll's figures change
(changed units only; see communities.stats_export). The follower (communities.follower)
sends the poll's group a small notice per update; this consumer forwards, from its own
process's recent updates, every one after the last it sent, or a fresh snapshot if those
are no longer all kept.

Close codes: 4401 when nobody is signed in (neither a member session nor a user), 4403 when
the caller may not watch this poll or it does not exist (the two look alike), 4404 when the
poll is not on the ledger yet (a published poll whose create block is still coming: retry).
Access is re-checked at most every ACCESS_RECHECK_SECONDS while updates arrive, so a member
removed from the scope stops receiving within that time without a query per push.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser

from . import follower
from .stats_access import StatsNotVisible, StatsSignInRequired, access_poll_statistics, get_member_id

SIGN_IN_REQUIRED, FORBIDDEN, NOT_ON_LEDGER = 4401, 4403, 4404
ACCESS_RECHECK_SECONDS = 30.0


class PollStatsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        self.ledger_id = str(self.scope["url_route"]["kwargs"]["poll"])
        self.sent = 0  # number of the last update (communities.follower) this socket has
        code, self.live = await self._check()
        if code:
            await self.close(code=code)
            return
        await self.accept()
        self.group = follower.get_poll_group(self.ledger_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.loop = follower.watch(self.ledger_id)
        if not await self._send_snapshot(catch_up=True):
            await self.close(code=NOT_ON_LEDGER)

    async def _send_snapshot(self, *, catch_up: bool) -> bool:
        snapshot = await database_sync_to_async(self._snapshot)(catch_up)
        if snapshot is None:
            return False
        self.sent, self.sent_height, text = snapshot
        await self.send(text_data=text)
        return True

    def _snapshot(self, catch_up: bool) -> tuple[int, int, str] | None:
        """(number of the last update, height, the shared snapshot text), the follower first brought up to date."""
        the_follower = follower.get_follower()
        if catch_up:
            the_follower.catch_up()
        return the_follower.snapshot_for_socket(self.ledger_id, self.live)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "loop"):
            await follower.unwatch(self.ledger_id)
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return None  # watchers only listen

    async def stats_update(self, event: dict[str, Any]) -> None:
        """A notice that an update was built (here or in another worker): forward what this socket lacks."""
        pending = follower.get_follower().updates_after(self.ledger_id, self.sent)
        if pending is not None and not pending[1]:
            return
        if time.monotonic() >= self.checked_at + ACCESS_RECHECK_SECONDS:
            code, self.live = await self._check()
            if code:
                await self.close(code=code)
                return
        if pending is None:  # fell behind the kept updates: start again from a snapshot
            await self._send_snapshot(catch_up=False)
            return
        self.sent, updates = pending
        for height, text in updates:
            if height > self.sent_height:  # an update built just after the snapshot may hold nothing newer
                self.sent_height = height
                await self.send(text_data=text)

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
