"""ws/audit/elections/<id>/?lang=ko: the observer dashboard's live sections (read-only).

Messages are ``{"type": "snapshot", "version", "data", "html": {section: fragment}}``,
sent on connect and whenever the election's watch (``audit.services.live``) rebuilt the
snapshot. Access is checked on connect and again before every push, so withdrawing the
observer role ends the feed (close code 4403).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from voting.services.live import get_turnout_group

from .access import can_observe
from .services import live

FORBIDDEN = 4403


def get_language(scope: dict[str, Any]) -> str:
    """The page's language from ``?lang=``, if it is one the site offers; else the default."""
    requested = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [""])[0]
    offered = {code for code, _ in settings.LANGUAGES}
    return requested if requested in offered else str(settings.LANGUAGE_CODE)


class ObserverConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        self.election_id = int(self.scope["url_route"]["kwargs"]["election_id"])
        self.language = get_language(self.scope)
        if not await self._allowed():
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        self.turnout_group = get_turnout_group(self.election_id)
        await self.channel_layer.group_add(self.turnout_group, self.channel_name)
        self.watch = live.subscribe(self.election_id, self.channel_name)
        if self.watch.snapshot is not None:  # a watch already running: this dashboard need not wait
            await self._push()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "watch"):
            await live.unsubscribe(self.election_id, self.channel_name)
        if hasattr(self, "turnout_group"):
            await self.channel_layer.group_discard(self.turnout_group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None  # observers only listen

    async def audit_snapshot(self, event: dict[str, Any]) -> None:
        await self._push()

    async def turnout_changed(self, event: dict[str, Any]) -> None:
        """A check-in was recorded: have the watch rebuild now rather than at the next poll."""
        if hasattr(self, "watch"):
            self.watch.poke()

    async def _allowed(self) -> bool:
        user = self.scope.get("user")
        return user is not None and bool(await database_sync_to_async(can_observe)(user, self.election_id))

    async def _push(self) -> None:
        if not await self._allowed():
            await self.close(code=FORBIDDEN)
            return
        message = self.watch.message_for(self.language)
        if message is not None:
            await self.send_json(message)
