"""The live statistics socket: a snapshot on connect, an update after a block a REAL node committed, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser

from communities.models import Member, Membership
from communities.routing import websocket_urlpatterns
from communities.services.members import SESSION_KEY
from tests.audit.conftest import node_urls  # noqa: F401  (fixture)
from tests.voting.conftest import ledger_node, node_gateway  # noqa: F401  (fixtures)
from tests.voting.ledger_node import LedgerNode
from voting.ledger_gateway import LedgerGateway

from .stats_world import StatsWorld, make_stats_world
from .tree_factory import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.network]


class Socket(ApplicationCommunicator):  # type: ignore[misc]
    """A websocket client for the ASGI app (channels.testing's WebsocketCommunicator needs daphne)."""

    async def connect(self) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        reply = await self.receive_output(20)
        return reply["type"] == "websocket.accept", reply.get("code")

    async def receive_json(self, timeout: float = 20) -> dict[str, Any]:
        reply = await self.receive_output(timeout)
        assert reply["type"] == "websocket.send", reply
        return json.loads(reply["text"])  # type: ignore[no-any-return]

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(2)


def socket(ledger_id: str, user: object = None, member_id: int | None = None) -> Socket:
    path = f"/ws/communities/polls/{ledger_id}/stats/"
    session = {SESSION_KEY: member_id} if member_id is not None else {}
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [],
             "subprotocols": [], "user": user or AnonymousUser(), "session": session}
    return Socket(URLRouter(websocket_urlpatterns), scope)


@pytest.fixture
def live(settings: Any, node_urls: Any, ledger_node: LedgerNode) -> None:  # noqa: F811
    settings.COMMUNITY_STATS = {"REFRESH_SECONDS": 0.2}
    node_urls(ledger_node.url)


def member_of(world: StatsWorld, slug: str) -> Member:
    member = Member.objects.create(display_name="watcher-" + slug)
    Membership.objects.create(member=member, community=world.nodes[slug], joined_via="invite")
    return member


def test_a_member_sees_the_turnout_and_result_change_after_a_committed_cast(
    live: None, node_gateway: LedgerGateway,  # noqa: F811
) -> None:
    world = make_stats_world(node_gateway)
    member = member_of(world, "jangan")
    async_to_sync(watch_a_cast)(world, member, node_gateway)


async def watch_a_cast(world: StatsWorld, member: Member, gateway: LedgerGateway) -> None:
    connection = socket(world.poll.ledger_id, member_id=member.pk)
    connected, _ = await connection.connect()
    assert connected
    first = await connection.receive_json()
    assert first["type"] == "snapshot" and first["status"] == "open"
    jangan, suwon, root = (world.nodes[s].unit_id for s in ("jangan", "suwon", "gyeonggi"))
    figures = {unit["id"]: unit["figures"] for unit in first["units"]}
    assert figures[root] == [4, 4, 0, 0] and figures[jangan] == [2, 2, 0, 0]
    cast = world.cast(gateway, world.voters[jangan][0], "library")
    outcome = await sync_to_async(gateway.transport.commit, thread_sensitive=False)([cast], 20)
    assert outcome[0].committed
    update = await connection.receive_json()
    assert update["type"] == "update" and update["height"] > first["height"]
    # Only the changed units the root's view shows travel: the root and its changed child, not the leaf below
    # that child nor the unchanged sibling.
    assert set(update["units"]) == {suwon, root} and update["view"] == root
    assert update["units"][root] == [4, 4, 1, 1] and update["units"][suwon] == [2, 2, 1, 1]
    assert update["results"][root]["totals"] == {"park": 0, "library": 1}
    assert update["results"][root]["winners"] == ["library"]
    await connection.disconnect()


def test_results_stay_hidden_while_open_without_live_results(
    live: None, node_gateway: LedgerGateway,  # noqa: F811
) -> None:
    world = make_stats_world(node_gateway, live_results=False)
    member = member_of(world, "seongnam")
    async_to_sync(watch_hidden)(world, member, node_gateway)


async def watch_hidden(world: StatsWorld, member: Member, gateway: LedgerGateway) -> None:
    connection = socket(world.poll.ledger_id, member_id=member.pk)
    assert (await connection.connect())[0]
    first = await connection.receive_json()
    assert first["results_visible"] is False and all(unit["result"] is None for unit in first["units"])
    seongnam = world.nodes["seongnam"].unit_id
    cast = world.cast(gateway, world.voters[seongnam][1], "park")
    await sync_to_async(gateway.transport.commit, thread_sensitive=False)([cast], 20)
    update = await connection.receive_json()
    assert update["units"][seongnam][2] == 1  # turnout moves
    assert "results" not in update and "park" not in json.dumps(update)
    await connection.disconnect()


@pytest.mark.parametrize("who", ["anonymous", "member_elsewhere", "plain_user", "unknown_poll"])
def test_callers_outside_the_poll_are_refused(
    who: str, live: None, node_gateway: LedgerGateway,  # noqa: F811
) -> None:
    world = make_stats_world(node_gateway)
    ledger_id, user, member_id = world.poll.ledger_id, None, None
    if who == "member_elsewhere":  # a member of another tree is not in the poll's scope
        member = Member.objects.create(display_name="outside")
        other = world.nodes["gyeonggi"].__class__.objects.create(slug="other-root", name="Other", path="/", depth=0)
        other.path = f"/{other.pk}/"
        other.save()
        Membership.objects.create(member=member, community=other, joined_via="invite")
        member_id = member.pk
    elif who == "plain_user":
        user = make_user("someone")
    elif who == "unknown_poll":
        user, ledger_id = make_user("someone-else"), "no-such-poll"
    expected = 4401 if who == "anonymous" else 4403
    connected, code = async_to_sync(socket(ledger_id, user, member_id).connect)()
    assert not connected and code == expected


def test_a_manager_and_staff_may_watch(live: None, node_gateway: LedgerGateway) -> None:  # noqa: F811
    world = make_stats_world(node_gateway)
    staff = make_user("staff-watcher")
    staff.is_staff = True
    staff.save()
    manager = make_user("manager-watcher")
    world.nodes["gyeonggi"].managers.create(user=manager)
    for user in (staff, manager):
        async_to_sync(watch_once)(world.poll.ledger_id, user)


async def watch_once(ledger_id: str, user: object) -> None:
    connection = socket(ledger_id, user)
    assert (await connection.connect())[0]
    assert (await connection.receive_json())["type"] == "snapshot"
    await connection.disconnect()


def test_a_member_removed_from_the_scope_stops_receiving(
    live: None, node_gateway: LedgerGateway, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    from communities import consumers

    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 0.0)  # re-check at every update, not every 30 s
    world = make_stats_world(node_gateway)
    member = member_of(world, "seongnam")
    async_to_sync(removed)(world, member, node_gateway)


async def removed(world: StatsWorld, member: Member, gateway: LedgerGateway) -> None:
    connection = socket(world.poll.ledger_id, member_id=member.pk)
    assert (await connection.connect())[0]
    await connection.receive_json()
    await sync_to_async(Membership.objects.filter(member=member).delete)()
    seongnam = world.nodes["seongnam"].unit_id
    await sync_to_async(gateway.transport.commit, thread_sensitive=False)(
        [world.cast(gateway, world.voters[seongnam][0], "park")], 20)
    assert await connection.receive_output(20) == {"type": "websocket.close", "code": 4403}


def test_an_idle_channel_layer_receive_outlives_the_redis_client_timeout(settings: Any) -> None:
    """redis-py 8 cut idle BZPOPMIN reads after 5 s and killed every quiet dashboard socket (settings fix)."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (the CI's second run)")
    import asyncio

    from channels.layers import get_channel_layer

    async def idle() -> None:
        layer = get_channel_layer()
        name = await layer.new_channel()
        with pytest.raises(asyncio.TimeoutError):  # our own deadline, not redis.exceptions.TimeoutError
            await asyncio.wait_for(layer.receive(name), 7)

    async_to_sync(idle)()
