"""Turnout against the members published as eligible per unit (docs/protocol.md 16.2 ``eligible``).

Members are registered on the ledger right before they cast, so counting registered voters
as the eligible ones would read 100%; a poll that publishes ``eligible`` gets a true
denominator at every unit and every roll-up.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from communities import stats_export
from communities.stats import StatsEngine

from .stats_polls import CLOSE_AT, OPEN_AT, PollCase, block, split_into_blocks, tx

# r (0 own members) > x (4 own) > z (6 own); r > y (0 own): 10 eligible members in all.
UNITS = [{"id": "r", "parent": None, "name": "R", "eligible": 0}, {"id": "x", "parent": "r", "name": "X", "eligible": 4},
         {"id": "y", "parent": "r", "name": "Y", "eligible": 0}, {"id": "z", "parent": "x", "name": "Z", "eligible": 6}]


def create(units: list[dict[str, Any]], weights: str = "equal") -> dict[str, Any]:
    return {"poll": "p1", "title": "t", "method": "single", "options": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "units": units, "opens_at": OPEN_AT, "closes_at": CLOSE_AT, "weights": weights,
            **({"weight_rule": "rule"} if weights == "registered" else {})}


def ingest(case: PollCase, cuts: list[int]) -> Any:
    engine = StatsEngine()
    for entry in split_into_blocks(case.all_txs(), cuts):
        engine.apply_block(entry)
    return engine.polls["p1"]


def test_ten_eligible_and_three_votes_is_thirty_percent_at_the_right_units() -> None:
    case = PollCase(create(UNITS), [(0, "z", 1), (1, "z", 1), (2, "x", 1)], [(0, "a"), (1, "b"), (2, "a")])
    stats = ingest(case, [2, 4])
    figures = {uid: stats_export.unit_figures(stats, uid) for uid in stats.order}
    assert figures == {"r": [10, 10, 3, 3], "x": [10, 10, 3, 3], "y": [0, 0, 0, 0], "z": [6, 6, 2, 2]}
    rows = {row["unit"]: row for row in csv.DictReader(io.StringIO(stats_export.build_csv(stats, True)))}
    assert rows["r"]["turnout_percent"] == rows["x"]["turnout_percent"] == "30.00"
    assert rows["z"]["turnout_percent"] == "33.33" and rows["y"]["turnout_percent"] == ""
    export = stats_export.build_export(stats, True)
    assert export["eligible_published"] is True
    assert {row["id"]: (row["eligible"], row["ballots"]) for row in export["units"]}["r"] == (10, 3)


def test_without_published_counts_eligible_falls_back_to_the_registered_voters() -> None:
    bare = [{key: value for key, value in unit.items() if key != "eligible"} for unit in UNITS]
    case = PollCase(create(bare), [(0, "z", 1), (1, "z", 1), (2, "x", 1), (3, "y", 1)], [(0, "a"), (1, "b")])
    stats = ingest(case, [3])
    assert stats_export.unit_figures(stats, "r") == [4, 4, 2, 2]
    assert stats_export.build_snapshot(stats, True)["eligible_published"] is False


def test_weighted_polls_count_members_but_weigh_only_registered_voters() -> None:
    case = PollCase(create(UNITS, "registered"), [(0, "z", 3), (1, "x", 2)], [(0, "a")])
    stats = ingest(case, [])
    assert stats_export.unit_figures(stats, "r") == [10, 5, 1, 3]


def test_units_added_after_creation_bring_their_eligible_members() -> None:
    engine = StatsEngine()
    engine.apply_block(block(1, OPEN_AT, [tx("create", create(UNITS[:2]))]))
    engine.apply_block(block(2, OPEN_AT + 1, [tx("add_units", {"poll": "p1", "units": UNITS[2:]})]))
    stats = engine.polls["p1"]
    assert stats.order == ["r", "x", "y", "z"] and stats.depth["z"] == 2
    assert stats_export.unit_figures(stats, "r")[0] == 10 and stats_export.unit_figures(stats, "z")[0] == 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=4, max_size=4), st.lists(st.integers(0, 12), max_size=4))
def test_eligible_at_every_unit_is_the_subtree_sum_however_blocks_are_cut(own: list[int], cuts: list[int]) -> None:
    units = [dict(unit, eligible=count) for unit, count in zip(UNITS, own, strict=True)]
    case = PollCase(create(units), [], [])
    stats = ingest(case, sorted(cuts))
    subtree = {"z": own[3], "y": own[2], "x": own[1] + own[3], "r": sum(own)}
    assert {uid: stats.figures[uid].eligible for uid in subtree} == subtree
