"""Per-view socket frames without a network: filtering, view frames, the shared-text cache, visibility."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from communities import follower as follower_module
from communities.follower import LedgerFollower
from communities.stats import StatsEngine
from communities.stats_export import build_update_parts, build_view, compose_update, get_view_units

from .stats_polls import CLOSE_AT, OPEN_AT, PollCase, poll_cases, split_into_blocks, trees
from .test_stats_follower import ServedChain

UNITS = [{"id": "r", "parent": None, "name": "R"}, {"id": "a", "parent": "r", "name": "A"},
         {"id": "b", "parent": "r", "name": "B"}, {"id": "a1", "parent": "a", "name": "A1"},
         {"id": "a2", "parent": "a", "name": "A2"}, {"id": "b1", "parent": "b", "name": "B1"}]


def case(ballots: list[tuple[int, str]], voters: int = 12) -> PollCase:
    leaves = ["a1", "a2", "b1"]
    create = {"poll": "p1", "title": "t", "method": "single", "units": UNITS, "opens_at": OPEN_AT,
              "closes_at": CLOSE_AT, "weights": "equal",
              "options": [{"id": "park", "name": "Park"}, {"id": "library", "name": "Library"}]}
    return PollCase(create, [(i, leaves[i % 3], 1) for i in range(voters)], ballots)


def follower_for(poll: PollCase, cuts: list[int]) -> tuple[LedgerFollower, ServedChain]:
    chain = ServedChain(split_into_blocks(poll.all_txs(), cuts))
    the_follower = LedgerFollower(lambda: chain)  # type: ignore[arg-type, return-value]
    the_follower.catch_up()
    the_follower.drain()
    return the_follower, chain


@given(case=poll_cases(), data=st.data())
def test_an_update_frame_holds_exactly_the_changed_units_the_view_shows(case: PollCase, data: st.DataObject) -> None:
    engine = StatsEngine()
    for entry in split_into_blocks(case.all_txs(), []):
        engine.apply_block(entry)
    stats = engine.polls["p1"]
    view = data.draw(st.sampled_from(stats.order), label="view")
    changed = data.draw(st.sets(st.sampled_from(stats.order)), label="changed")
    visible = data.draw(st.booleans(), label="visible")
    parts = build_update_parts(stats, changed, visible, number=1)
    text = compose_update(parts, view, get_view_units(stats, view))
    shown = {view, *stats.children[view]}
    if not shown & changed:
        assert text is None
        return
    assert text is not None
    frame = json.loads(text)
    assert frame["type"] == "update" and frame["view"] == view and frame["height"] == stats.height
    assert set(frame["units"]) == shown & changed
    assert all(frame["units"][uid] == [stats.figures[uid].eligible, stats.figures[uid].eligible_weight,
                                       stats.figures[uid].ballots, stats.figures[uid].weight] for uid in frame["units"])
    if visible:
        assert set(frame["results"]) == shown & changed
        assert all(frame["results"][uid]["winners"] == stats.result(uid)["winners"] for uid in frame["results"])
    else:
        assert "results" not in frame


@given(units=trees(), data=st.data())
def test_a_view_frame_holds_the_unit_its_breadcrumb_and_its_children(units: list[dict[str, Any]],
                                                                       data: st.DataObject) -> None:
    create = {"poll": "p1", "title": "t", "method": "single", "units": units, "opens_at": OPEN_AT,
              "closes_at": CLOSE_AT, "weights": "equal", "options": [{"id": "x", "name": "X"}]}
    engine = StatsEngine()
    engine.apply_block(split_into_blocks(PollCase(create, [], []).all_txs(), [])[0])
    stats = engine.polls["p1"]
    unit = data.draw(st.sampled_from(stats.order))
    frame = build_view(stats, unit, True)
    parent = {u["id"]: u["parent"] for u in units}
    path, above = [], parent[unit]
    while above is not None:
        path.insert(0, above)
        above = parent[above]
    children = {u["id"] for u in units if u["parent"] == unit}
    assert frame["path"] == path and frame["unit"] == unit
    assert set(frame["units"]) == set(path) | {unit} | children == set(frame["results"])
    assert frame["series"] == {unit: []}


def test_while_results_are_hidden_no_view_or_update_frame_carries_an_option_figure() -> None:
    the_follower, _ = follower_for(case([(0, "park"), (1, "library"), (2, "park")]), [])
    number = the_follower.build_update("p1", {"r", "a", "a1"}, live_results=False)
    assert number == 1
    for unit in ("r", "a", "a1"):
        view = the_follower.view_for_socket("p1", unit, live_results=False)
        assert view is not None
        frame = json.loads(view[2])
        assert frame["results_visible"] is False and "results" not in frame
        assert frame["units"][unit][2] > 0  # turnout does show
        parts = the_follower.updates_after("p1", 0)[1][0]  # type: ignore[index]
        text = the_follower.update_text("p1", parts, unit)
        assert text is not None and "results" not in json.loads(text)
        for hidden in (view[2], text):
            assert "park" not in hidden and "library" not in hidden and "winners" not in hidden
    visible = the_follower.view_for_socket("p1", "r", live_results=True)
    assert visible is not None and json.loads(visible[2])["results"]["r"]["totals"] == {"park": 2, "library": 1}


def test_sockets_on_one_view_share_one_text_and_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follower_module, "SHARED_TEXTS", 4)
    the_follower, _ = follower_for(case([(0, "park"), (1, "library"), (2, "park")]), [])
    the_follower.build_update("p1", {"r", "a", "b", "a1", "a2", "b1"}, live_results=True)
    parts = the_follower.updates_after("p1", 0)[1][0]  # type: ignore[index]
    first, second = the_follower.update_text("p1", parts, "a"), the_follower.update_text("p1", parts, "a")
    assert first is second and first is not None  # one string for every socket on the view
    assert json.loads(first)["units"].keys() == {"a", "a1", "a2"}
    view_a = the_follower.view_for_socket("p1", "a", True)
    assert view_a is the_follower.view_for_socket("p1", "a", True)
    for unit in ("r", "b", "a1", "a2", "b1"):
        the_follower.update_text("p1", parts, unit)
        the_follower.view_for_socket("p1", unit, True)
        assert len(the_follower._texts) <= 4
    assert ("update", "p1", 1, "a") not in the_follower._texts  # the oldest went first
    assert the_follower.update_text("p1", parts, "a") == first  # and is rebuilt alike when asked again


def test_a_view_frame_is_not_shared_across_a_new_block() -> None:
    poll = case([(0, "park"), (1, "library"), (2, "park")])
    the_follower, _ = follower_for(poll, [len(poll.all_txs()) - 1])
    before = the_follower.view_for_socket("p1", "r", True)
    assert before is not None
    stale = StatsEngine()  # the same chain one block short: the follower's view must differ from it
    entries = split_into_blocks(poll.all_txs(), [len(poll.all_txs()) - 1])
    for entry in entries[:-1]:
        stale.apply_block(entry)
    assert json.loads(before[2])["units"]["r"][2] == 3 != stale.polls["p1"].figures["r"].ballots
    the_follower._reset()
    chain = ServedChain(entries[:-1])
    the_follower.client_factory = lambda: chain  # type: ignore[assignment, return-value]
    the_follower.catch_up()
    after = the_follower.view_for_socket("p1", "r", True)
    assert after is not None and json.loads(after[2])["units"]["r"][2] == 2


def test_an_unknown_unit_or_poll_has_no_view() -> None:
    the_follower, _ = follower_for(case([]), [])
    assert the_follower.view_for_socket("p1", "nope", True) is None
    assert the_follower.view_for_socket("no-poll", "r", True) is None


def test_a_status_change_sends_every_unit_once() -> None:
    the_follower, _ = follower_for(case([(0, "park")]), [])
    the_follower.build_update("p1", {"r"}, live_results=False)
    stats = the_follower.engine.polls["p1"]
    stats.status = "closed"  # results become visible: every page needs every result it shows
    the_follower.build_update("p1", set(), live_results=False)
    parts = the_follower.updates_after("p1", 1)[1][0]  # type: ignore[index]
    assert parts.visible and set(parts.figures) == set(stats.order)
    text = the_follower.update_text("p1", parts, "b")
    assert text is not None and json.loads(text)["results"].keys() == {"b", "b1"}
    the_follower.build_update("p1", {"a1"}, live_results=False)
    assert set(the_follower.updates_after("p1", 2)[1][0].figures) == {"a1"}  # type: ignore[index]


def test_the_first_long_catch_up_freezes_the_loaded_objects_out_of_the_collector() -> None:
    poll = case([(i, "park") for i in range(120)], voters=120)  # 125 transactions: 125 one-tx blocks
    small, _ = follower_for(poll, [])
    assert not small.frozen  # one block: nothing worth freezing
    try:
        big, _ = follower_for(poll, list(range(1, 200)))
        assert big.frozen and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
