"""Live turnout over websockets: a snapshot on connect and after every check-in (or every few seconds)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .access import Capability, access_election
from .errors import VotingError
from .lifecycle import Status
from .selectors import get_ledger_station_counts, get_turnout
from .services.live import get_turnout_group

# Votes are cast at kiosks straight onto the ledger, so the ledger counters are re-read periodically.
REFRESH_SECONDS = 5.0


@database_sync_to_async
def load_turnout(user: Any, election_id: int) -> dict[str, Any] | None:
    """A turnout snapshot, or None if the user may not watch this election."""
    try:
        election = access_election(user, election_id, Capability.VIEW_TURNOUT)
    except VotingError:
        return None
    ledger_counts = get_ledger_station_counts(election) if election.status != Status.DRAFT else {}
    return {**get_turnout(election, ledger_counts=ledger_counts), "status": election.status}


class TurnoutConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """ws/elections/<id>/turnout/: sends {"type": "turnout", ...snapshot} messages; read-only."""

    async def connect(self) -> None:
        self.election_id = int(self.scope["url_route"]["kwargs"]["election_id"])
        snapshot = await load_turnout(self.scope.get("user"), self.election_id)
        if snapshot is None:
            await self.close(code=4403)
            return
        self.group = get_turnout_group(self.election_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "turnout", **snapshot})
        self.refresher = asyncio.create_task(self._refresh_periodically())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "refresher"):
            self.refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.refresher
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None  # the dashboard only listens

    async def turnout_changed(self, event: dict[str, Any]) -> None:
        await self._send_snapshot()

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        snapshot = await load_turnout(self.scope.get("user"), self.election_id)
        if snapshot is None:
            await self.close(code=4403)
            return
        await self.send_json({"type": "turnout", **snapshot})
