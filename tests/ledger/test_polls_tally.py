"""Counting community polls (ledger/core/polls.py): worked examples with known winners, and properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import polls

IDS = ["a", "b", "c", "d"]


def record(method: str, ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    ids = ids or (["yes", "no", "abstain"] if method == "yna" else IDS[:3])
    return {"method": method, "options": [{"id": i, "name": i.upper()} for i in ids],
            "units": [{"id": "root", "parent": None, "name": "Root"}], **extra}


def rows(*groups: tuple[int, Any], weight: int = 1) -> list[tuple[str, int, Any]]:
    """``(count, ballot)`` groups as (unit, weight, ballot) rows."""
    return [("root", weight, ballot) for count, ballot in groups for _ in range(count)]


# --- worked examples --------------------------------------------------------------


def test_single_choice_plurality_winner() -> None:
    result = polls.tally(record("single"), rows((3, "a"), (5, "b"), (2, "c")))
    assert result["totals"] == {"a": 3, "b": 5, "c": 2}
    assert (result["winners"], result["tie"], result["ballots"], result["weight"]) == (["b"], False, 10, 10)


def test_single_choice_tie_names_every_tied_option_in_option_order() -> None:
    result = polls.tally(record("single", ["c", "a", "b"]), rows((4, "a"), (4, "c"), (1, "b")))
    assert (result["winners"], result["tie"]) == (["c", "a"], True)


def test_weights_flip_the_single_choice_winner() -> None:
    ballots = rows((3, "a")) + [("root", 5, "b")]
    assert polls.tally(record("single"), ballots)["winners"] == ["b"]  # 5 against 3
    assert polls.tally(record("single"), [(u, 1, b) for u, _, b in ballots])["winners"] == ["a"]  # 3 against 1


def test_multi_choice_counts_each_mark() -> None:
    result = polls.tally(record("multi", choices=2), rows((1, ["a", "b"]), (1, ["a", "c"]), (1, ["b"])))
    assert result["totals"] == {"a": 2, "b": 2, "c": 1}
    assert (result["winners"], result["tie"]) == (["a", "b"], True)


def test_multi_choice_weighted() -> None:
    result = polls.tally(record("multi", choices=2), [("root", 3, ["b", "c"]), ("root", 2, ["a", "b"])])
    assert result["totals"] == {"a": 2, "b": 5, "c": 3}
    assert result["winners"] == ["b"]


def test_yes_no_abstain_passes_on_more_yes_than_no() -> None:
    result = polls.tally(record("yna"), rows((4, "yes"), (3, "no"), (9, "abstain")))
    assert (result["passed"], result["tie"], result["winners"]) == (True, False, ["yes"])


def test_yes_no_abstain_tie_does_not_pass_and_abstentions_only_count_for_turnout() -> None:
    result = polls.tally(record("yna"), rows((3, "yes"), (3, "no"), (5, "abstain")))
    assert result["totals"] == {"yes": 3, "no": 3, "abstain": 5}
    assert (result["passed"], result["tie"], result["winners"], result["ballots"]) == (False, True, ["yes", "no"], 11)


def test_yes_no_abstain_weighted_rejection() -> None:
    result = polls.tally(record("yna"), [("root", 1, "yes"), ("root", 1, "yes"), ("root", 3, "no")])
    assert (result["passed"], result["winners"]) == (False, ["no"])


def test_score_voting_sums_weight_times_score() -> None:
    ballots = [("root", 1, {"a": 5, "b": 3, "c": 0}), ("root", 1, {"a": 0, "b": 4, "c": 5}),
               ("root", 2, {"a": 1, "b": 2, "c": 3})]
    result = polls.tally(record("score", score_max=5), ballots)
    assert result["totals"] == {"a": 7, "b": 11, "c": 11}
    assert (result["winners"], result["tie"]) == (["b", "c"], True)


def test_ranked_plurality_leader_loses_the_runoff() -> None:
    """A leads the first round (8 of 21) but C's voters prefer B, who then has 13."""
    result = polls.tally(record("ranked"), rows((8, ["a"]), (7, ["b", "c"]), (6, ["c", "b"])))
    assert result["totals"] == {"a": 8, "b": 7, "c": 6}
    assert [r["counts"] for r in result["rounds"]] == [{"a": 8, "b": 7, "c": 6}, {"a": 8, "b": 13}]
    assert [r["eliminated"] for r in result["rounds"]] == ["c", None]
    assert (result["winners"], result["tie"]) == (["b"], False)
    assert polls.tally(record("single"), rows((8, "a"), (7, "b"), (6, "c")))["winners"] == ["a"]


def test_ranked_elimination_tie_is_broken_by_the_previous_round() -> None:
    """Round 2 ties B and C at 6; in round 1 C had fewer (5 < 6), so C goes and B wins.

    Eliminating B instead would have let A win, so the rule decides the result.
    """
    ballots = rows((10, ["a"]), (6, ["b"]), (5, ["c", "b"]), (1, ["d", "c"]))
    result = polls.tally(record("ranked", IDS), ballots)
    assert [r["counts"] for r in result["rounds"]] == [
        {"a": 10, "b": 6, "c": 5, "d": 1}, {"a": 10, "b": 6, "c": 6}, {"a": 10, "b": 11}]
    assert [r["eliminated"] for r in result["rounds"]] == ["d", "c", None]
    assert [r["exhausted"] for r in result["rounds"]] == [0, 0, 1]
    assert result["winners"] == ["b"]


def test_ranked_tie_in_every_round_eliminates_the_option_listed_last() -> None:
    result = polls.tally(record("ranked"), rows((3, ["a"]), (2, ["b"]), (2, ["c"])))
    assert result["rounds"][0]["eliminated"] == "c"
    assert result["winners"] == ["a"]  # 3 of the 5 continuing after c's ballots exhaust
    reordered = polls.tally(record("ranked", ["a", "c", "b"]), rows((3, ["a"]), (2, ["b"]), (2, ["c"])))
    assert reordered["rounds"][0]["eliminated"] == "b"


def test_ranked_final_two_equal_is_a_tie() -> None:
    result = polls.tally(record("ranked"), rows((2, ["a"]), (2, ["b"]), (1, ["c"])))
    assert [r["eliminated"] for r in result["rounds"]] == ["c", None]
    assert result["rounds"][-1] == {"round": 2, "counts": {"a": 2, "b": 2}, "exhausted": 1, "eliminated": None}
    assert (result["winners"], result["tie"]) == (["a", "b"], True)


def test_ranked_weights_flip_the_winner() -> None:
    rec = record("ranked", ["a", "c", "b"])
    ballots = [("root", 1, ["a"]), ("root", 1, ["a"]), ("root", 3, ["b"]), ("root", 1, ["c", "b"])]
    weighted = polls.tally(rec, ballots)  # a 2, c 1, b 3 of 6; c goes, b has 4
    assert [r["eliminated"] for r in weighted["rounds"]] == ["c", None] and weighted["winners"] == ["b"]
    equal = polls.tally(rec, [(u, 1, b) for u, _, b in ballots])  # a 2, c 1, b 1: b (listed last) goes, a has 2 of 3
    assert [r["eliminated"] for r in equal["rounds"]] == ["b", None] and equal["winners"] == ["a"]


def test_no_ballots_every_option_ties() -> None:
    for method, extra in (("single", {}), ("ranked", {}), ("score", {"score_max": 3}), ("multi", {"choices": 2})):
        result = polls.tally(record(method, **extra), [])
        assert (result["winners"], result["tie"], result["ballots"], result["weight"]) == (IDS[:3], True, 0, 0)
    assert polls.tally(record("yna"), [])["passed"] is False


def test_roll_up_counts_a_ballot_in_its_unit_and_every_ancestor() -> None:
    units = [{"id": "p", "parent": None, "name": "P"}, {"id": "c1", "parent": "p", "name": "C1"},
             {"id": "c2", "parent": "p", "name": "C2"}, {"id": "d1", "parent": "c1", "name": "D1"}]
    rec = dict(record("single"), units=units)
    by_unit = polls.tally_by_unit(rec, [("d1", 1, "a"), ("c1", 2, "b"), ("c2", 1, "c"), ("p", 1, "c")])
    assert {u: r["totals"] for u, r in by_unit.items()} == {
        "p": {"a": 1, "b": 2, "c": 2}, "c1": {"a": 1, "b": 2, "c": 0}, "c2": {"a": 0, "b": 0, "c": 1},
        "d1": {"a": 1, "b": 0, "c": 0}}
    assert by_unit["p"] == polls.tally(rec, [("d1", 1, "a"), ("c1", 2, "b"), ("c2", 1, "c"), ("p", 1, "c")])


# --- properties -------------------------------------------------------------------------

OPTION_LISTS = st.lists(st.sampled_from(IDS), min_size=2, max_size=4, unique=True)


@st.composite
def polls_with_ballots(draw: st.DrawFn, method: str | None = None) -> tuple[dict[str, Any], list[tuple[str, int, Any]]]:
    method = method or draw(st.sampled_from(["single", "multi", "yna", "ranked", "score"]))
    ids = ["yes", "no", "abstain"] if method == "yna" else draw(OPTION_LISTS)
    extra: dict[str, Any] = {}
    if method in ("single", "yna"):
        ballot = st.sampled_from(ids)
    elif method == "multi":
        extra["choices"] = draw(st.integers(1, len(ids)))
        ballot = st.lists(st.sampled_from(ids), min_size=1, max_size=extra["choices"], unique=True).map(sorted)
    elif method == "ranked":
        ballot = st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True)
    else:
        extra["score_max"] = draw(st.integers(1, 5))
        ballot = st.fixed_dictionaries({i: st.integers(0, extra["score_max"]) for i in ids})
    ballots = draw(st.lists(st.tuples(st.just("root"), st.integers(1, 4), ballot), max_size=25))
    return record(method, ids, **extra), ballots


@settings(max_examples=150, deadline=None)
@given(polls_with_ballots(), st.randoms(use_true_random=False))
def test_ballot_order_never_changes_the_result(case: Any, random: Any) -> None:
    rec, ballots = case
    shuffled = list(ballots)
    random.shuffle(shuffled)
    assert polls.tally(rec, shuffled) == polls.tally(rec, ballots)


@settings(max_examples=150, deadline=None)
@given(polls_with_ballots())
def test_a_ballot_of_weight_w_counts_as_w_copies(case: Any) -> None:
    rec, ballots = case
    copies = [(unit, 1, ballot) for unit, weight, ballot in ballots for _ in range(weight)]
    weighted, expanded = polls.tally(rec, ballots), polls.tally(rec, copies)
    assert weighted.pop("ballots") == len(ballots)
    assert expanded.pop("ballots") == len(copies)
    assert weighted == expanded


@settings(max_examples=200, deadline=None)
@given(polls_with_ballots("ranked"))
def test_a_first_preference_majority_wins_the_runoff_and_the_plurality(case: Any) -> None:
    rec, ballots = case
    result = polls.tally(rec, ballots)
    total = sum(weight for _, weight, _ in ballots)
    majority = [o for o, count in result["totals"].items() if 2 * count > total]
    if majority:
        assert result["winners"] == majority and len(result["rounds"]) == 1
        plurality = polls.tally(dict(rec, method="single"), [(u, w, b[0]) for u, w, b in ballots])
        assert plurality["winners"] == majority


@settings(max_examples=200, deadline=None)
@given(polls_with_ballots("ranked"))
def test_runoff_rounds_account_for_every_unit_of_weight(case: Any) -> None:
    rec, ballots = case
    result = polls.tally(rec, ballots)
    total = sum(weight for _, weight, _ in ballots)
    continuing = [o["id"] for o in rec["options"]]
    for round_ in result["rounds"]:
        assert list(round_["counts"]) == continuing
        assert sum(round_["counts"].values()) + round_["exhausted"] == total
        if round_["eliminated"] is not None:
            counts = round_["counts"]
            assert counts[round_["eliminated"]] == min(counts.values())
            continuing.remove(round_["eliminated"])
    assert set(result["winners"]) <= set(continuing)
    assert result["tie"] == (len(result["winners"]) > 1)


@settings(max_examples=150, deadline=None)
@given(polls_with_ballots())
def test_winners_hold_the_top_total_except_in_runoffs(case: Any) -> None:
    rec, ballots = case
    result = polls.tally(rec, ballots)
    assert result["ballots"] == len(ballots)
    assert result["weight"] == sum(weight for _, weight, _ in ballots)
    if rec["method"] in ("single", "multi", "score"):
        best = max(result["totals"].values())
        assert result["winners"] == [o for o, v in result["totals"].items() if v == best]
    if rec["method"] == "single":
        assert sum(result["totals"].values()) == result["weight"]
    if rec["method"] == "yna":
        assert result["passed"] == (result["totals"]["yes"] > result["totals"]["no"])


@pytest.mark.parametrize("method", ["single", "ranked"])
def test_tally_is_pure(method: str) -> None:
    rec = record(method)
    ballots = rows((2, "a" if method == "single" else ["a", "b"]))
    before = repr((rec, ballots))
    polls.tally(rec, ballots)
    assert repr((rec, ballots)) == before


@st.composite
def trees(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A random tree: each unit's parent is one of the units before it."""
    size = draw(st.integers(1, 8))
    units = [{"id": "u0", "parent": None, "name": "U0"}]
    for i in range(1, size):
        units.append({"id": f"u{i}", "parent": f"u{draw(st.integers(0, i - 1))}", "name": f"U{i}"})
    return units


@settings(max_examples=150, deadline=None)
@given(polls_with_ballots(), trees(), st.data())
def test_each_units_roll_up_is_the_tally_of_its_subtree(case: Any, units: list[dict[str, Any]], data: Any) -> None:
    rec, ballots = case
    rec = dict(rec, units=units)
    placed = [(data.draw(st.sampled_from([u["id"] for u in units])), weight, ballot) for _, weight, ballot in ballots]
    chains = polls.subtree_members(units)
    by_unit = polls.tally_by_unit(rec, placed)
    assert set(by_unit) == {u["id"] for u in units}
    for unit in units:
        inside = [row for row in placed if unit["id"] in chains[row[0]]]
        assert by_unit[unit["id"]] == polls.tally(rec, inside)
    assert by_unit["u0"] == polls.tally(rec, placed)


# --- instant runoff: the piled count against the straightforward recount ------------------


def recount_instant_runoff(options: list[str], rankings: dict[tuple[str, ...], int]) -> dict[str, Any]:
    """The oracle: instant runoff as docs/protocol.md 16.8 words it, every round counted afresh.

    Every round reads every ranking again, as ``polls._instant_runoff`` did before it kept piles
    per option; it stays here, out of the core, so the faster count is checked against it.
    """
    continuing = list(options)
    history: list[dict[str, int]] = []
    rounds: list[dict[str, Any]] = []
    while True:
        counts = dict.fromkeys(continuing, 0)
        exhausted = 0
        for ranking, weight in rankings.items():
            top = next((option for option in ranking if option in continuing), None)
            if top is None:
                exhausted += weight
            else:
                counts[top] += weight
        history.append(counts)
        active = sum(counts.values())
        rounds.append({"round": len(history), "counts": dict(counts), "exhausted": exhausted, "eliminated": None})
        leaders = [option for option in continuing if 2 * counts[option] > active]
        if leaders:
            winners = leaders
            break
        if active == 0 or len(continuing) <= 2:
            winners = list(continuing)
            break
        tied = list(continuing)
        for past in reversed(history):
            low = min(past[option] for option in tied)
            tied = [option for option in tied if past[option] == low]
            if len(tied) == 1:
                break
        loser = tied[-1]
        rounds[-1]["eliminated"] = loser
        continuing.remove(loser)
    return {"totals": dict(history[0]), "rounds": rounds, "winners": winners, "tie": len(winners) > 1}


POOL = ["a", "b", "c", "d", "e", "f", "g"]


@st.composite
def runoff_profiles(draw: st.DrawFn, valid_only: bool = True) -> tuple[list[str], dict[tuple[str, ...], int]]:
    """Options in a random order and a profile of rankings: full, partial and empty (exhausted from
    the start), plus weightless ones. Weights share one scale per profile, half the time 1..3 so that
    ties, in a round and back through every earlier round, are common.
    ``valid_only=False`` also lets rankings repeat an option or name one not on the poll."""
    options = draw(st.integers(2, len(POOL)).flatmap(lambda n: st.permutations(POOL[:n])))
    ranking = (st.lists(st.sampled_from(options), min_size=1, max_size=len(options), unique=True) if valid_only
               else st.lists(st.sampled_from(options + ["zz"]), min_size=1, max_size=len(options) + 2))
    weight = st.integers(1, draw(st.sampled_from([3, 3, 1000, 10**6])))  # one scale per profile
    size = draw(st.sampled_from([0, 3, 8, 16]))
    pairs = draw(st.lists(st.tuples(ranking.map(tuple), weight), min_size=size, max_size=2 * size + 4))
    pairs += draw(st.lists(st.tuples(st.just(()), weight), max_size=1))  # ballots exhausted from the start
    pairs += draw(st.lists(st.tuples(ranking.map(tuple), st.just(0)), max_size=1))  # weightless rankings
    profile: dict[tuple[str, ...], int] = {}
    for key, value in pairs:
        profile[key] = profile.get(key, 0) + value
    return options, profile


@settings(max_examples=600, deadline=None)
@given(runoff_profiles())
def test_piled_runoff_equals_the_round_by_round_recount(case: Any) -> None:
    options, profile = case
    assert polls._instant_runoff(options, profile) == recount_instant_runoff(options, profile)


@settings(max_examples=200, deadline=None)
@given(runoff_profiles(valid_only=False))
def test_piled_runoff_equals_the_recount_even_on_unvalidated_rankings(case: Any) -> None:
    options, profile = case
    assert polls._instant_runoff(options, profile) == recount_instant_runoff(options, profile)


@settings(max_examples=200, deadline=None)
@given(runoff_profiles(), st.randoms(use_true_random=False))
def test_ranked_tally_of_ballots_equals_the_recount_of_their_profile(case: Any, random: Any) -> None:
    """Through the public ``tally``: ballots (a profile spread over single ballots, in any order)."""
    options, profile = case
    ballots = [("root", weight, list(ranking)) for ranking, weight in profile.items()]
    random.shuffle(ballots)
    result = polls.tally(record("ranked", options), ballots)
    expected = recount_instant_runoff(options, profile)
    assert {key: result[key] for key in expected} == expected
    assert (result["ballots"], result["weight"]) == (len(ballots), sum(profile.values()))


def test_recount_oracle_agrees_with_the_worked_tie_example() -> None:
    """The oracle itself is checked on the hand-worked example above, so it cannot drift with the core."""
    profile = {("a",): 10, ("b",): 6, ("c", "b"): 5, ("d", "c"): 1}
    result = recount_instant_runoff(IDS, profile)
    assert [r["eliminated"] for r in result["rounds"]] == ["d", "c", None]
    assert [r["exhausted"] for r in result["rounds"]] == [0, 0, 1]
    assert result["winners"] == ["b"]
