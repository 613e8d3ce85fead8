"""The socket's views over a REAL node: view frames, filtered updates, bad messages, hidden results."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from communities import consumers
from tests.audit.conftest import node_urls  # noqa: F401  (fixture)
from tests.voting.conftest import ledger_node, node_gateway  # noqa: F401  (fixtures)
from voting.ledger_gateway import LedgerGateway

from .stats_world import StatsWorld, make_stats_world
from .test_live_ws import Socket, live, member_of, socket  # noqa: F401  (live: fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.network]


async def open_view(world: StatsWorld, member_id: int, unit: str | None) -> tuple[Socket, dict[str, Any]]:
    """A connected socket past its snapshot, switched to ``unit``'s view (if given); returns it and the last frame."""
    connection = socket(world.poll.ledger_id, member_id=member_id)
    assert (await connection.connect())[0]
    frame = await connection.receive_json()
    assert frame["type"] == "snapshot"
    if unit is not None:
        await send_text(connection, json.dumps({"type": "view", "unit": unit}))
        frame = await connection.receive_json()
    return connection, frame


async def send_text(connection: Socket, text: str) -> None:
    await connection.send_input({"type": "websocket.receive", "text": text})


async def commit_cast(world: StatsWorld, gateway: LedgerGateway, unit: str, index: int, ballot: str) -> None:
    cast = world.cast(gateway, world.voters[unit][index], ballot)
    outcome = await sync_to_async(gateway.transport.commit, thread_sensitive=False)([cast], 20)
    assert outcome[0].committed


def test_a_view_frame_then_only_the_changed_units_of_the_view(live: None, node_gateway: LedgerGateway) -> None:  # noqa: F811
    world = make_stats_world(node_gateway)
    member = member_of(world, "gyeonggi")
    async_to_sync(views_filter)(world, member.pk, node_gateway)


async def views_filter(world: StatsWorld, member_id: int, gateway: LedgerGateway) -> None:
    root, suwon, jangan, seongnam = (world.nodes[s].unit_id for s in ("gyeonggi", "suwon", "jangan", "seongnam"))
    on_suwon, view = await open_view(world, member_id, suwon)
    assert view["type"] == "view" and view["unit"] == suwon and view["path"] == [root]
    assert set(view["units"]) == {root, suwon, jangan} == set(view["results"])  # breadcrumb, unit, children
    assert view["units"][suwon] == [2, 2, 0, 0] and view["series"] == {suwon: []}
    on_seongnam, _ = await open_view(world, member_id, seongnam)
    on_root, _ = await open_view(world, member_id, None)

    await commit_cast(world, gateway, seongnam, 0, "park")
    update = await on_seongnam.receive_json()
    assert update["type"] == "update" and update["view"] == seongnam and set(update["units"]) == {seongnam}
    assert update["units"][seongnam] == [2, 2, 1, 1] and update["results"][seongnam]["winners"] == ["park"]
    update = await on_root.receive_json()
    assert update["view"] == root and set(update["units"]) == {root, seongnam}
    assert await on_suwon.receive_nothing(0.5)  # nothing suwon shows changed: no frame at all

    await commit_cast(world, gateway, jangan, 0, "library")
    update = await on_suwon.receive_json()
    assert update["view"] == suwon and set(update["units"]) == {suwon, jangan}
    assert update["units"][jangan] == [2, 2, 1, 1] and update["height"] > view["height"]
    assert set((await on_root.receive_json())["units"]) == {root, suwon}
    assert await on_seongnam.receive_nothing(0.5)

    # Drilling back up: a fresh view frame with current figures, then the root view's updates.
    await send_text(on_suwon, json.dumps({"type": "view", "unit": root}))
    back = await on_suwon.receive_json()
    assert back["type"] == "view" and back["unit"] == root and back["path"] == []
    assert back["units"][root] == [4, 4, 2, 2] and len(back["series"][root]) == 2
    await commit_cast(world, gateway, jangan, 1, "library")
    assert set((await on_suwon.receive_json())["units"]) == {root, suwon}
    for connection in (on_suwon, on_seongnam, on_root):
        await connection.disconnect()


def test_bad_view_messages_get_typed_errors_and_change_nothing(
    live: None, node_gateway: LedgerGateway, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setattr(consumers, "MAX_BAD_MESSAGES", 5)
    world = make_stats_world(node_gateway)
    member = member_of(world, "gyeonggi")
    async_to_sync(bad_messages)(world, member.pk, node_gateway)


async def bad_messages(world: StatsWorld, member_id: int, gateway: LedgerGateway) -> None:
    root, suwon, jangan = (world.nodes[s].unit_id for s in ("gyeonggi", "suwon", "jangan"))
    connection, _ = await open_view(world, member_id, suwon)
    cases = [("not json", "message_malformed"), ('["view"]', "message_malformed"),
             ('{"type":"view","unit":7}', "message_malformed"), ('{"type":"look","unit":"x"}', "message_malformed"),
             (json.dumps({"type": "view", "unit": "x" * 600}), "message_malformed"),
             (json.dumps({"type": "view", "unit": "no-such-unit"}), "view_unknown_unit")]
    for text, code in cases[:4]:
        await send_text(connection, text)
        error = await connection.receive_json()
        assert error["type"] == "error" and error["code"] == code and error["message"], text
    await connection.send_input({"type": "websocket.receive", "bytes": b'{"type":"view"}'})
    assert (await connection.receive_json())["code"] == "message_malformed"
    # The view is still suwon's: a cast in jangan arrives as suwon's update.
    await commit_cast(world, gateway, jangan, 0, "park")
    update = await connection.receive_json()
    assert update["view"] == suwon and set(update["units"]) == {suwon, jangan}
    # A sixth bad message is more than a page ever sends: the socket is closed.
    await send_text(connection, cases[4][0])
    assert await connection.receive_output(5) == {"type": "websocket.close", "code": 1008}

    other, _ = await open_view(world, member_id, None)
    await send_text(other, cases[5][0])
    error = await other.receive_json()
    assert error["code"] == "view_unknown_unit" and error["detail"] == {"unit": "no-such-unit"}
    await commit_cast(world, gateway, jangan, 1, "park")
    assert (await other.receive_json())["view"] == root  # still the root's view
    await other.disconnect()


def test_view_frames_and_updates_hide_results_while_a_poll_without_live_results_is_open(
    live: None, node_gateway: LedgerGateway,  # noqa: F811
) -> None:
    world = make_stats_world(node_gateway, live_results=False)
    member = member_of(world, "gyeonggi")
    async_to_sync(hidden_views)(world, member.pk, node_gateway)


async def hidden_views(world: StatsWorld, member_id: int, gateway: LedgerGateway) -> None:
    suwon, jangan = world.nodes["suwon"].unit_id, world.nodes["jangan"].unit_id
    await commit_cast(world, gateway, jangan, 0, "park")
    connection, view = await open_view(world, member_id, suwon)
    assert view["type"] == "view" and view["results_visible"] is False and "results" not in view
    assert view["units"][jangan] == [2, 2, 1, 1]  # turnout shows
    await commit_cast(world, gateway, jangan, 1, "library")
    update = await connection.receive_json()
    assert update["units"][jangan] == [2, 2, 2, 2] and "results" not in update
    for frame in (view, update):
        text = json.dumps(frame)
        assert "park" not in text and "library" not in text and "winners" not in text
    await connection.disconnect()


def test_a_socket_that_fell_behind_the_kept_updates_gets_a_fresh_view_frame_not_a_replay(
    live: None, node_gateway: LedgerGateway,  # noqa: F811
) -> None:
    world = make_stats_world(node_gateway)
    member = member_of(world, "gyeonggi")
    async_to_sync(fell_behind)(world, member.pk)


async def fell_behind(world: StatsWorld, member_id: int) -> None:
    import asyncio

    from communities import follower

    suwon = world.nodes["suwon"].unit_id
    connection, view = await open_view(world, member_id, suwon)
    the_follower = follower.get_follower()
    for _ in range(follower.RECENT_UPDATES + 1):  # more updates than kept, without yielding: the socket cannot wake
        the_follower.build_update(world.poll.ledger_id, {suwon}, True)
    for wake in list(follower._loops[id(asyncio.get_running_loop())].wakers[world.poll.ledger_id]):
        wake()
    fresh = await connection.receive_json()
    assert fresh["type"] == "view" and fresh["unit"] == suwon and fresh["units"] == view["units"]
    assert await connection.receive_nothing(0.3)  # and nothing replayed after it
    await connection.disconnect()


def test_a_socket_gets_a_new_snapshot_when_the_follower_starts_over_on_another_chain(
    live: None, node_gateway: LedgerGateway,  # noqa: F811
) -> None:
    world = make_stats_world(node_gateway)
    member = member_of(world, "gyeonggi")
    async_to_sync(chain_changed)(world, member.pk)


async def chain_changed(world: StatsWorld, member_id: int) -> None:
    import asyncio

    from communities import follower

    suwon = world.nodes["suwon"].unit_id
    connection, _ = await open_view(world, member_id, suwon)
    the_follower = follower.get_follower()
    with the_follower.lock:  # what catch_up does when the blocks no longer chain on (a reset network)
        the_follower._reset()
    await asyncio.to_thread(the_follower.catch_up)
    the_follower.build_update(world.poll.ledger_id, {suwon}, True)
    for wake in list(follower._loops[id(asyncio.get_running_loop())].wakers[world.poll.ledger_id]):
        wake()
    assert (await connection.receive_json())["type"] == "snapshot"  # the page re-sends its view after it
    await connection.disconnect()
