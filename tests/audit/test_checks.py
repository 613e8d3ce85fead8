"""The checks as pure functions: properties over arbitrary counters, and the findings a valid chain cannot produce."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit.anomalies import MESSAGES, Anomaly, Code
from audit.selectors.ledger_facts import ChainFacts, NodeFacts
from audit.selectors.reconcile import (
    compute_candidates,
    compute_contracts,
    compute_nodes,
    compute_stations,
)
from audit.selectors.site_facts import SiteFacts

counts = st.integers(min_value=0, max_value=1000)


@st.composite
def station_case(draw: Any) -> tuple[dict[str, int], dict[str, int]]:
    chain = {"registered": draw(counts), "minted": draw(counts), "checkins": draw(counts), "spent": draw(counts)}
    site = {"committed": draw(counts), "pending": draw(st.integers(0, 5))}
    return chain, site


@given(station_case())
def test_station_flags_are_raised_exactly_when_their_rule_is_broken(case: tuple[dict[str, int], dict[str, int]]) -> None:
    counters, local = case
    chain = ChainFacts(tally={"stations": {"s1": counters}})
    site = SiteFacts(roll_stations={"s1"}, checkins={"s1": local})
    section, anomalies = compute_stations(chain, site)
    (row,) = section["rows"]
    expected = []
    if counters["spent"] > counters["checkins"]:
        expected.append("votes_exceed_checkins")
    if not local["committed"] <= counters["checkins"] <= local["committed"] + local["pending"]:
        expected.append("checkins_mismatch")
    assert row["flags"] == expected == [a.code.value for a in anomalies]
    assert row["unspent"] == counters["minted"] - counters["spent"] and section["totals"]["spent"] == counters["spent"]


def test_a_station_on_chain_without_voters_on_the_roll_is_flagged() -> None:
    chain = ChainFacts(tally={"stations": {"ghost": {"registered": 5, "minted": 5, "checkins": 0, "spent": 0}}})
    _, anomalies = compute_stations(chain, SiteFacts())
    assert [a.code for a in anomalies] == [Code.STATION_NOT_IN_ROLL]


RECORD = {"id": "e1", "status": "closed", "candidates": [{"id": "c1", "name": "Kim", "address": "a" * 40},
                                                          {"id": "c2", "name": "Lee", "address": "b" * 40}]}
SITE = SiteFacts(candidates=[("c1", "Kim"), ("c2", "Lee")])


def tally(c1: int, c2: int, spent: int, unused: int = 0, choices: int = 1) -> dict[str, Any]:
    return {"candidates": {"c1": c1, "c2": c2}, "unused": unused, "choices": choices, "totals": {"spent": spent},
            "stations": {}}


def test_a_recount_that_differs_from_the_balances_is_flagged() -> None:
    _, anomalies = compute_candidates(ChainFacts(record=RECORD, tally=tally(3, 1, 4), recount={"c1": 2, "c2": 1}), SITE)
    assert [(a.code, a.subject) for a in anomalies] == [(Code.RECOUNT_MISMATCH, "c1")]


def test_balances_that_do_not_add_up_to_the_units_spent_are_flagged() -> None:
    assert [a.code for a in compute_candidates(ChainFacts(record=RECORD, tally=tally(3, 1, 5)), SITE)[1]] == [
        Code.TALLY_UNBALANCED]
    approval = ChainFacts(record=RECORD, tally=tally(3, 2, 3, unused=1, choices=2))  # 3 ballots x 2 marks
    assert compute_candidates(approval, SITE)[1] == []


def test_candidates_on_chain_that_differ_from_the_site_are_flagged() -> None:
    renamed = SiteFacts(candidates=[("c1", "Kim"), ("c2", "Park")])
    assert [a.code for a in compute_candidates(ChainFacts(record=RECORD, tally=tally(0, 0, 0)), renamed)[1]] == [
        Code.CANDIDATES_DIFFER]


def test_a_contract_deployed_here_but_not_pinned_is_flagged() -> None:
    rows, anomalies = compute_contracts(ChainFacts(pins={"vote": "1" * 64}, local_hashes={"vote": "1" * 64,
                                                                                          "poll": "2" * 64}))
    assert [(r["id"], r["state"]) for r in rows] == [("poll", "not_pinned"), ("vote", "match")]
    assert [a.code for a in anomalies] == [Code.CONTRACT_NOT_PINNED]


def node(url: str, state: str, height: int | None, behind: int | None) -> dict[str, Any]:
    return {"url": url, "node_id": url[-1], "name": "", "state": state, "reachable": state != "down", "error": "",
            "height": height, "head_hash": "h", "hash_at_common": "h", "last_commit": None, "peers_connected": 0,
            "peers_total": 0, "behind": behind}


@given(st.integers(0, 20), st.integers(0, 20))
def test_lag_is_flagged_only_beyond_the_threshold(behind: int, threshold: int) -> None:
    facts = NodeFacts([node("http://a", "ok", 100, 0), node("http://b", "behind", 100 - behind, behind)], 100 - behind, 100)
    section, anomalies = compute_nodes(facts, threshold)
    assert ("node_lagging" in section["rows"][1]["flags"]) is (behind > threshold)
    assert [a.code for a in anomalies] == ([Code.NODE_LAGGING] if behind > threshold else [])


def test_every_code_has_a_sentence_in_both_languages() -> None:
    from django.utils import translation

    for code in Code:
        assert code in MESSAGES
        with translation.override("ko"):
            korean = Anomaly(code).describe()
        with translation.override("en"):
            english = Anomaly(code).describe()
        assert korean != english, code
