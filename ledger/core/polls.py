"""Counting community polls: the one reference implementation of every method's result.

Pure functions over a poll record (the ``poll`` contract's ``poll/p/<poll>`` value) and
its ballots as ``(unit, weight, ballot)`` triples, already validated by the contract. The
ledger, the live dashboard and the per-unit roll-ups all call ``tally`` so they can never
disagree; the standalone verifier re-implements the same rules from docs/protocol.md
(section 16.8) and the tests compare the two. No random tie-break exists anywhere: a tie
is reported as a tie (``winners`` lists every tied option, ``tie`` is true).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

BallotRow = tuple[str, int, Any]  # (unit, weight, ballot)
# Ranked ballots reduced to what instant runoff needs: each distinct ranking with its summed
# weight, and the number of ballots. The runoff counts a multiset of rankings, so equal ones
# merge (at most a few dozen with four options), and a subtree's profile is the sum of its
# units' profiles: rolling up a 100,000-ballot poll then costs one pass over the ballots.
Profile = tuple[dict[tuple[str, ...], int], int]


def profile_of(ballots: Iterable[BallotRow]) -> Profile:
    """The profile of ranked ballots: distinct rankings with their summed weights, and the count."""
    weights: dict[tuple[str, ...], int] = {}
    count = 0
    for _, weight, ballot in ballots:
        key = tuple(ballot)
        weights[key] = weights.get(key, 0) + weight
        count += 1
    return weights, count


def tally(record: Mapping[str, Any], ballots: Iterable[BallotRow]) -> dict[str, Any]:
    """The result of a poll: totals, winners, tie flag; IRV rounds for ranked; passed for yna."""
    method = record["method"]
    if method == "ranked":
        return tally_ranked(record, profile_of(ballots))
    options = [option["id"] for option in record["options"]]
    rows = ballots if isinstance(ballots, list) else list(ballots)
    return {"method": method, "ballots": len(rows), "weight": sum(row[1] for row in rows),
            **_decide(method, options, _totals(method, options, rows))}


def tally_ranked(record: Mapping[str, Any], profile: Profile) -> dict[str, Any]:
    """``tally`` of ranked ballots summarised as a profile of distinct rankings."""
    weights, count = profile
    options = [option["id"] for option in record["options"]]
    return {"method": record["method"], "ballots": count, "weight": sum(weights.values()),
            **_instant_runoff(options, weights)}


def _totals(method: str, options: Sequence[str], rows: Iterable[BallotRow]) -> dict[str, int]:
    """Weighted totals per option of the additive methods (single, yna, multi, score)."""
    totals = dict.fromkeys(options, 0)
    if method in ("single", "yna"):
        for _, weight, option in rows:
            totals[option] += weight
    elif method == "multi":
        for _, weight, marks in rows:
            for option in marks:
                totals[option] += weight
    elif method == "score":
        for _, weight, scores in rows:
            for option, score in scores.items():
                totals[option] += weight * score
    else:
        raise ValueError(f"unknown poll method {method!r}")
    return totals


def _decide(method: str, options: Sequence[str], totals: dict[str, int]) -> dict[str, Any]:
    """Winners and tie (and passed, for yna) from the totals of an additive method."""
    if method == "yna":
        yes, no = totals["yes"], totals["no"]
        winners = ["yes", "no"] if yes == no else (["yes"] if yes > no else ["no"])
        return {"totals": totals, "passed": yes > no, "tie": yes == no, "winners": winners}
    best = max(totals.values())
    winners = [option for option in options if totals[option] == best]
    return {"totals": totals, "winners": winners, "tie": len(winners) > 1}


def _instant_runoff(options: Sequence[str], rankings: Mapping[tuple[str, ...], int]) -> dict[str, Any]:
    """Instant runoff with the stated tie rules (docs/protocol.md 16.8).

    Each round counts every ballot for its highest-ranked continuing option; a ballot
    with none left is exhausted. An option above half of the continuing weight wins.
    Otherwise the lowest is eliminated; a tie for lowest goes to the lower count in the
    previous round, then the one before, and so on; still tied, the option listed last
    in ``options`` goes. Two options left with equal counts: a tie.

    Why piles instead of recounting: the statistics engine re-tallies every changed unit
    after each block, and a recount per round read all of a unit's rankings again in
    every round. Here each ranking sits on the pile of the option it currently counts
    for, and the counts are kept as running sums, so eliminating an option only moves
    that option's pile (each ranking to its next continuing option, or to exhausted).
    Every ranking is read once to start with and then only when its option goes; the
    result, rounds included, is exactly what the round-by-round recount gives (the tests
    keep that recount as an oracle).
    """
    continuing = list(options)
    alive = set(continuing)
    # option -> the rankings counting for it, each with the index of that option in it
    piles: dict[str, list[tuple[tuple[str, ...], int, int]]] = {option: [] for option in continuing}
    counts = dict.fromkeys(continuing, 0)
    exhausted = 0
    for ranking, weight in rankings.items():
        if ranking and ranking[0] in alive:  # the usual case, inlined: a ranking counts for its first choice
            piles[ranking[0]].append((ranking, weight, 0))
            counts[ranking[0]] += weight
        else:  # empty, or (never from the contract) starting with an option not on the poll
            exhausted += _deal([(ranking, weight, 0)], alive, piles, counts)
    history: list[dict[str, int]] = []
    rounds: list[dict[str, Any]] = []
    while True:
        snapshot = {option: counts[option] for option in continuing}  # in the order of ``options``
        history.append(snapshot)
        active = sum(snapshot.values())
        record: dict[str, Any] = {"round": len(history), "counts": dict(snapshot), "exhausted": exhausted,
                                  "eliminated": None}
        rounds.append(record)
        leaders = [option for option in continuing if 2 * snapshot[option] > active]
        if leaders:
            winners = leaders
            break
        if active == 0 or len(continuing) <= 2:
            # No ballot left to count, or two options at exactly half each: a tie of those left.
            winners = list(continuing)
            break
        loser = _lowest(continuing, history)
        record["eliminated"] = loser
        continuing.remove(loser)
        alive.discard(loser)
        del counts[loser]
        exhausted += _deal(piles.pop(loser), alive, piles, counts)  # ``at`` is the loser's place: skipped
    return {"totals": dict(history[0]), "rounds": rounds, "winners": winners, "tie": len(winners) > 1}


def _deal(rows: Iterable[tuple[tuple[str, ...], int, int]], alive: set[str],
          piles: dict[str, list[tuple[tuple[str, ...], int, int]]], counts: dict[str, int]) -> int:
    """Put each ``(ranking, weight, at)`` on the pile of its first continuing option from
    ``at`` on, adding its weight to that option's count; returns the weight left with none.

    One loop over a whole pile rather than a call per ranking: this is the inner loop of
    every roll-up, and a Python call per ranking cost about as much as the work itself.
    """
    exhausted = 0
    for ranking, weight, at in rows:
        size = len(ranking)
        while at < size and ranking[at] not in alive:
            at += 1
        if at < size:
            option = ranking[at]
            piles[option].append((ranking, weight, at))
            counts[option] += weight
        else:
            exhausted += weight
    return exhausted


def _lowest(continuing: Sequence[str], history: Sequence[Mapping[str, int]]) -> str:
    """The option to eliminate: the lowest now, then lowest in earlier rounds, then listed last."""
    tied = list(continuing)
    for counts in reversed(history):
        low = min(counts[option] for option in tied)
        tied = [option for option in tied if counts[option] == low]
        if len(tied) == 1:
            return tied[0]
    return tied[-1]  # ``continuing`` keeps the order of ``options``


def subtree_members(units: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """For every unit, itself and its ancestors up to the root: where one ballot counts in a roll-up."""
    parent = {unit["id"]: unit["parent"] for unit in units}
    chains: dict[str, list[str]] = {}
    for unit_id in parent:
        chain = []
        node: str | None = unit_id
        while node is not None:
            chain.append(node)
            node = parent[node]
        chains[unit_id] = chain
    return chains


def tally_by_unit(record: Mapping[str, Any], ballots: Iterable[BallotRow]) -> dict[str, dict[str, Any]]:
    """Per unit, the ``tally`` of every ballot cast in its subtree (the roll-up of the tree).

    Each unit's own ballots are reduced to a profile once, and summed from the deepest
    units up, so a ballot is read once however deep the tree: for the additive methods
    the sums are the option totals themselves; for ranked ballots (instant runoff is not
    additive) the profiles of distinct rankings, each subtree then counted in full.
    """
    if record["method"] != "ranked":
        return _additive_by_unit(record, ballots)
    units = record["units"]
    own: dict[str, dict[tuple[str, ...], int]] = {unit["id"]: {} for unit in units}
    counts = dict.fromkeys(own, 0)
    for unit_id, weight, ballot in ballots:
        key = tuple(ballot)
        bucket = own[unit_id]
        bucket[key] = bucket.get(key, 0) + weight
        counts[unit_id] += 1
    chains = subtree_members(units)
    parent = {unit["id"]: unit["parent"] for unit in units}
    for unit_id in sorted(own, key=lambda u: len(chains[u]), reverse=True):  # deepest first
        up = parent[unit_id]
        if up is not None:
            target = own[up]
            for key, weight in own[unit_id].items():
                target[key] = target.get(key, 0) + weight
            counts[up] += counts[unit_id]
    return {unit["id"]: tally_ranked(record, (own[unit["id"]], counts[unit["id"]])) for unit in units}


def _additive_by_unit(record: Mapping[str, Any], ballots: Iterable[BallotRow]) -> dict[str, dict[str, Any]]:
    """``tally_by_unit`` for single, multi, yna and score: totals, weight and count add up the tree."""
    method = record["method"]
    options = [option["id"] for option in record["options"]]
    units = record["units"]
    rows: dict[str, list[BallotRow]] = {unit["id"]: [] for unit in units}
    for row in ballots:
        rows[row[0]].append(row)
    sums: dict[str, tuple[dict[str, int], int, int]] = {}
    for unit_id, own in rows.items():
        sums[unit_id] = (_totals(method, options, own), sum(row[1] for row in own), len(own))
    chains = subtree_members(units)
    parent = {unit["id"]: unit["parent"] for unit in units}
    for unit_id in sorted(sums, key=lambda u: len(chains[u]), reverse=True):  # deepest first
        up = parent[unit_id]
        if up is not None:
            totals, weight, count = sums[unit_id]
            target, target_weight, target_count = sums[up]
            for option, value in totals.items():
                target[option] += value
            sums[up] = (target, target_weight + weight, target_count + count)
    result = {}
    for unit in units:
        totals, weight, count = sums[unit["id"]]
        result[unit["id"]] = {"method": method, "ballots": count, "weight": weight,
                              **_decide(method, options, totals)}
    return result
