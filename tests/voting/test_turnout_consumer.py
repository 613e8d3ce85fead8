"""Live turnout over websockets: snapshot on connect, push after a check-in, refusal for strangers."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import AnonymousUser, User

from voting.models import Election, PollingStation, VoterRollEntry
from voting.routing import websocket_urlpatterns
from voting.services.live import announce_turnout

pytestmark = pytest.mark.django_db(transaction=True)


class Socket(ApplicationCommunicator):  # type: ignore[misc]
    """A minimal websocket client for an ASGI app (channels.testing needs daphne, which we do not ship)."""

    async def connect(self) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        reply = await self.receive_output(5)
        return reply["type"] == "websocket.accept", reply.get("code")

    async def receive_json_from(self, timeout: float = 5) -> dict[str, object]:
        reply = await self.receive_output(timeout)
        assert reply["type"] == "websocket.send", reply
        return json.loads(reply["text"])  # type: ignore[no-any-return]

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


def communicator(election: Election, user: object) -> Socket:
    path = f"/ws/elections/{election.pk}/turnout/"
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [],
             "subprotocols": [], "user": user}
    return Socket(URLRouter(websocket_urlpatterns), scope)


def test_snapshot_then_update_after_a_check_in(official: User, election: Election, station: PollingStation) -> None:
    async_to_sync(snapshot_then_update)(official, election, station)


async def snapshot_then_update(official: User, election: Election, station: PollingStation) -> None:
    entry = await sync_to_async(VoterRollEntry.objects.create)(
        election=election, roll_number="1", name="n", birth_date="1980-01-01", station=station)
    connection = communicator(election, official)
    connected, _ = await connection.connect()
    assert connected
    first = await connection.receive_json_from(timeout=5)
    assert first["type"] == "turnout" and first["totals"]["voters"] == 1 and first["totals"]["checked_in"] == 0
    await sync_to_async(VoterRollEntry.objects.filter(pk=entry.pk).update)(status="checked_in")
    await sync_to_async(announce_turnout, thread_sensitive=False)(election.pk)
    second = await connection.receive_json_from(timeout=5)
    assert second["totals"]["checked_in"] == 1 and second["stations"][0]["code"] == "suwon-1"
    await connection.disconnect()


def test_strangers_are_refused(election: Election) -> None:
    async_to_sync(strangers_are_refused)(election)


async def strangers_are_refused(election: Election) -> None:
    connection = communicator(election, AnonymousUser())
    connected, code = await connection.connect()
    assert not connected and code == 4403
