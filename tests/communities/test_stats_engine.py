"""The statistics engine against a from-scratch recount, and incremental ingestion against one batch.

The recount here groups ballots by subtree on its own (walking parents) and calls
``ledger.core.polls.tally`` on the real ballots; the engine gets there through its per-unit
aggregates and pseudo-ballots, so agreement is a real check of the roll-up and the aggregation.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from communities.stats import StatsEngine
from ledger.core import polls

from .stats_polls import CLOSE_AT, OPEN_AT, METHODS, PollCase, block, poll_cases, split_into_blocks, tx

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def in_subtree(units: list[dict[str, Any]], unit: str, top: str) -> bool:
    parent = {u["id"]: u["parent"] for u in units}
    node: str | None = unit
    while node is not None:
        if node == top:
            return True
        node = parent[node]
    return False


def recount(case: PollCase, top: str) -> dict[str, Any]:
    """Eligible and cast figures and the tally of the ballots cast in ``top``'s subtree, from the raw case."""
    units = case.create["units"]
    where = case.unit_of()
    eligible = [(unit, weight) for _, unit, weight in case.voters if in_subtree(units, unit, top)]
    rows = [(where[i][0], where[i][1], ballot) for i, ballot in case.ballots if in_subtree(units, where[i][0], top)]
    return {"eligible": len(eligible), "eligible_weight": sum(w for _, w in eligible),
            "result": polls.tally(case.create, rows)}


def ingest(blocks: list[dict[str, Any]]) -> StatsEngine:
    engine = StatsEngine()
    for entry in blocks:
        engine.apply_block(entry)
    return engine


@PROPERTY
@given(case=poll_cases(), cuts=st.lists(st.integers(0, 200), max_size=8))
def test_every_unit_equals_a_recount_of_its_subtree(case: PollCase, cuts: list[int]) -> None:
    stats = ingest(split_into_blocks(case.all_txs(), cuts)).polls["p1"]
    for unit in (u["id"] for u in case.create["units"]):
        expected = recount(case, unit)
        figures = stats.figures[unit]
        assert (figures.eligible, figures.eligible_weight) == (expected["eligible"], expected["eligible_weight"])
        assert stats.result(unit) == expected["result"], unit


@PROPERTY
@given(case=poll_cases(), cuts=st.lists(st.integers(0, 200), max_size=8))
def test_block_by_block_equals_one_batch(case: PollCase, cuts: list[int]) -> None:
    txs = case.all_txs()
    batch = ingest([block(1, OPEN_AT + 1000, txs)]).polls["p1"]
    stepwise_engine = StatsEngine()
    for entry in split_into_blocks(txs, cuts):
        stepwise_engine.apply_block(entry)
        stepwise_engine.polls.get("p1") and stepwise_engine.polls["p1"].refresh()  # results read between blocks
    stepwise = stepwise_engine.polls["p1"]
    for unit in (u["id"] for u in case.create["units"]):
        assert stepwise.figures[unit] == batch.figures[unit]
        assert stepwise.result(unit) == batch.result(unit)
    root = stepwise.root
    last = stepwise.series[root].points()[-1] if case.ballots else None
    assert last is None or last[1:] == [batch.figures[root].ballots, batch.figures[root].weight]


@pytest.mark.parametrize("method", METHODS)
def test_each_method_counts_a_small_worked_example(method: str) -> None:
    """Two leaves under a root; the root's result is the tally of all four ballots."""
    options = ["yes", "no", "abstain"] if method == "yna" else ["a", "b", "c"]
    ballots = {"single": ["a", "b", "b", "c"], "yna": ["yes", "no", "no", "abstain"],
               "multi": [["a", "b"], ["b"], ["b", "c"], ["a"]], "ranked": [["a", "b"], ["b"], ["c", "a"], ["a"]],
               "score": [{"a": 3, "b": 0, "c": 1}, {"a": 0, "b": 2, "c": 2}, {"a": 1, "b": 1, "c": 1},
                         {"a": 2, "b": 0, "c": 0}]}[method]
    units = [{"id": "r", "parent": None, "name": "R"}, {"id": "x", "parent": "r", "name": "X"},
             {"id": "y", "parent": "r", "name": "Y"}]
    create = {"poll": "p1", "title": "t", "method": method, "options": [{"id": o, "name": o} for o in options],
              "units": units, "opens_at": OPEN_AT, "closes_at": CLOSE_AT, "weights": "registered",
              **({"choices": 2} if method == "multi" else {}), **({"score_max": 3} if method == "score" else {})}
    case = PollCase(create, [(0, "x", 2), (1, "x", 1), (2, "y", 1), (3, "y", 3)], list(enumerate(ballots)))
    stats = ingest(split_into_blocks(case.all_txs(), [3, 4, 5])).polls["p1"]
    rows = [(unit, weight, ballots[i]) for i, unit, weight in case.voters]
    assert stats.result("r") == polls.tally(create, rows)
    assert stats.result("x") == polls.tally(create, rows[:2])
    assert stats.figures["r"].ballots == 4 and stats.figures["r"].weight == 7
    assert stats.figures["x"].eligible_weight == 3


def test_status_follows_open_close_and_the_closing_time() -> None:
    case = PollCase({"poll": "p1", "title": "t", "method": "single",
                     "options": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
                     "units": [{"id": "r", "parent": None, "name": "R"}], "opens_at": OPEN_AT,
                     "closes_at": CLOSE_AT, "weights": "equal"}, [(0, "r", 1)], [])
    engine = StatsEngine()
    assert engine.apply_block(block(1, OPEN_AT, [tx("create", case.create)])) == {"p1"}
    assert engine.polls["p1"].status == "created"
    engine.apply_block(block(2, OPEN_AT + 1, [tx("open", {"poll": "p1"})]))
    assert engine.polls["p1"].status == "open"
    assert engine.apply_block(block(3, OPEN_AT + 2, [])) == set()  # nothing changed: nothing to push
    assert engine.apply_block(block(4, CLOSE_AT, [])) == {"p1"}  # the closing time passed: closed
    assert engine.polls["p1"].status == "closed"


def test_blocks_must_follow_each_other() -> None:
    engine = StatsEngine()
    engine.apply_block(block(1, OPEN_AT, []))
    with pytest.raises(ValueError):
        engine.apply_block(block(3, OPEN_AT + 1, []))
    assert engine.height == 1


def test_other_contracts_are_ignored() -> None:
    engine = StatsEngine()
    vote = {**tx("transfer", {"election": "e1", "to": "ab" * 20}), "contract": "vote"}
    assert engine.apply_block(block(1, OPEN_AT, [vote])) == set()
    assert engine.polls == {}
