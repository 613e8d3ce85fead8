"""The live feed: a snapshot on connect, a new one after the ledger commits a block, refusal for non-observers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser, User

from audit.routing import websocket_urlpatterns
from ledger.core.tx import make_tx
from tests.voting.ledger_node import LedgerNode
from voting.ledger_gateway import LedgerGateway
from voting.models import Candidate, Election, ElectionRole, PollingStation, VoterRollEntry

from .conftest import grant, put_on_ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.network]


class Socket(ApplicationCommunicator):  # type: ignore[misc]
    """A minimal websocket client for an ASGI app (channels.testing needs daphne, which the project does not ship)."""

    async def connect(self) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        reply = await self.receive_output(10)
        return reply["type"] == "websocket.accept", reply.get("code")

    async def receive(self, timeout: float = 20) -> dict[str, Any]:
        return await self.receive_output(timeout)  # type: ignore[no-any-return]

    async def receive_snapshot(self, timeout: float = 20) -> dict[str, Any]:
        reply = await self.receive(timeout)
        assert reply["type"] == "websocket.send", reply
        return json.loads(reply["text"])  # type: ignore[no-any-return]

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(2)


def socket(election: Election, user: object, lang: str = "en") -> Socket:
    path = f"/ws/audit/elections/{election.pk}/"
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": f"lang={lang}".encode(),
             "headers": [], "subprotocols": [], "user": user}
    return Socket(URLRouter(websocket_urlpatterns), scope)


@pytest.fixture
def live_settings(settings: Any, node_urls: Any, ledger_node: LedgerNode) -> None:
    settings.AUDIT = {"REFRESH_SECONDS": 0.2}
    node_urls(ledger_node.url)


def spent(message: dict[str, Any], code: str) -> int:
    return int(next(r["spent"] for r in message["data"]["stations"]["rows"] if r["code"] == code))


def test_an_observer_gets_a_new_snapshot_after_a_vote_is_committed(
    live_settings: None, node_gateway: LedgerGateway, official: User, observer: User, election: Election,
    station: PollingStation, now: datetime,
) -> None:
    keys = put_on_ledger(official, election, station, now)
    candidate = Candidate.objects.get(election=election, position=1)
    vote = make_tx(keys[0], chain=node_gateway.chain_id, contract="vote", type="transfer",
                   payload={"election": election.ledger_id, "to": candidate.ledger_address})
    async_to_sync(watch_a_vote)(election, observer, station, node_gateway, vote)


async def watch_a_vote(election: Election, observer: User, station: PollingStation, gateway: LedgerGateway,
                       vote: Any) -> None:
    connection = socket(election, observer, lang="ko")
    connected, _ = await connection.connect()
    assert connected
    first = await connection.receive_snapshot()
    assert first["type"] == "snapshot" and spent(first, station.code) == 0
    assert set(first["html"]) == {"anomalies", "nodes", "stations", "mobile", "candidates", "evidence", "contracts"}
    assert "투표소별 대조" in first["html"]["stations"]  # rendered in the page's language
    height = first["data"]["nodes"]["max_height"]
    outcome = await sync_to_async(gateway.transport.commit, thread_sensitive=False)([vote], 20)
    assert outcome[0].committed
    update = await connection.receive_snapshot()
    assert update["version"] > first["version"] and update["data"]["nodes"]["max_height"] > height
    assert spent(update, station.code) == 1
    await connection.disconnect()


def test_a_change_on_the_site_alone_is_pushed_too(
    live_settings: None, node_gateway: LedgerGateway, official: User, observer: User, election: Election,
    station: PollingStation, now: datetime,
) -> None:
    """A credential issued to a voter changes no block, yet the mobile row must appear."""
    put_on_ledger(official, election, station, now)
    async_to_sync(credential_issued)(election, observer, station)


async def credential_issued(election: Election, observer: User, station: PollingStation) -> None:
    connection = socket(election, observer)
    assert (await connection.connect())[0]
    first = await connection.receive_snapshot()
    assert first["data"]["mobile"] is None
    await sync_to_async(VoterRollEntry.objects.create)(
        election=election, roll_number="M1", name="n", birth_date="1980-01-01", station=station,
        status=VoterRollEntry.Status.CREDENTIAL_ISSUED)
    update = await connection.receive_snapshot()
    assert update["data"]["mobile"]["issued"] == 1
    assert update["data"]["nodes"]["max_height"] == first["data"]["nodes"]["max_height"]
    await connection.disconnect()


def test_withdrawing_the_role_ends_the_feed(
    live_settings: None, node_gateway: LedgerGateway, official: User, observer: User, election: Election,
    station: PollingStation, now: datetime,
) -> None:
    keys = put_on_ledger(official, election, station, now)
    candidate = Candidate.objects.get(election=election, position=2)
    vote = make_tx(keys[0], chain=node_gateway.chain_id, contract="vote", type="transfer",
                   payload={"election": election.ledger_id, "to": candidate.ledger_address})
    async_to_sync(withdraw)(election, observer, node_gateway, vote)


async def withdraw(election: Election, observer: User, gateway: LedgerGateway, vote: Any) -> None:
    connection = socket(election, observer)
    assert (await connection.connect())[0]
    await connection.receive_snapshot()
    await sync_to_async(ElectionRole.objects.filter(user=observer).delete)()
    await sync_to_async(gateway.transport.commit, thread_sensitive=False)([vote], 20)
    closing = await connection.receive()
    assert closing == {"type": "websocket.close", "code": 4403}


@pytest.mark.parametrize("who", ["anonymous", "poll_worker", "other_observer"])
def test_non_observers_are_refused(
    who: str, live_settings: None, official: User, election: Election, station: PollingStation,
) -> None:
    user: object = AnonymousUser()
    if who != "anonymous":
        user = User.objects.create_user(who)
        role = ElectionRole.Role.POLL_WORKER if who == "poll_worker" else ElectionRole.Role.OBSERVER
        target = election if who == "poll_worker" else Election.objects.create(
            title="other", opens_at=election.opens_at, closes_at=election.closes_at, region=election.region,
            created_by=official)
        grant(user, target, role, official)  # type: ignore[arg-type]
    async_to_sync(refused)(election, user)


async def refused(election: Election, user: object) -> None:
    connected, code = await socket(election, user).connect()
    assert not connected and code == 4403
