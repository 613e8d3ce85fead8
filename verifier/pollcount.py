"""Poll results recounted from the ballots on the ledger (docs/protocol.md section 16.8).

Written from the protocol's counting and tie rules, not from ledger/core/polls.py, so the
two implementations check each other (tests/verifier/test_polls.py compares them).
"""

from __future__ import annotations

from typing import Any

from .contracts import Machine


def polls(machine: Machine) -> list[str]:
    """The ids of every poll on the chain (read once, after the last block)."""
    return sorted(key[7:] for key in machine.state if key.startswith("poll/p/"))


def poll_ballots(machine: Machine, poll: str) -> list[tuple[str, int, Any]]:
    count = machine.state[f"poll/n/{poll}"]["cast"]
    entries = (machine.state[f"poll/x/{poll}/{i}"] for i in range(count))
    return [(entry["unit"], entry["weight"], entry["ballot"]) for entry in entries]


def count(record: dict[str, Any], ballots: list[tuple[str, int, Any]]) -> dict[str, Any]:
    """The result object of 16.8: method, ballots, weight, totals, winners, tie (+ rounds, passed)."""
    order = [o["id"] for o in record["options"]]
    method = record["method"]
    out: dict[str, Any] = {"method": method, "ballots": len(ballots), "weight": sum(b[1] for b in ballots)}
    if method == "ranked":
        out.update(_runoff(order, [(w, b) for _, w, b in ballots]))
        return out
    totals = {o: 0 for o in order}
    for _, weight, ballot in ballots:
        if method == "score":
            marks = ballot
        elif method == "multi":
            marks = {o: 1 for o in ballot}
        else:
            marks = {ballot: 1}
        for option, amount in marks.items():
            totals[option] += weight * amount
    out["totals"] = totals
    if method == "yna":
        out["passed"] = totals["yes"] > totals["no"]
        out["tie"] = totals["yes"] == totals["no"]
        if out["tie"]:
            out["winners"] = ["yes", "no"]
        else:
            out["winners"] = ["yes" if out["passed"] else "no"]
        return out
    top = max(totals.values())
    out["winners"] = [o for o in order if totals[o] == top]
    out["tie"] = len(out["winners"]) != 1
    return out


def _runoff(order: list[str], ballots: list[tuple[int, list[str]]]) -> dict[str, Any]:
    remaining = list(order)
    rounds: list[dict[str, Any]] = []
    while True:
        counts = {o: 0 for o in remaining}
        exhausted = 0
        for weight, ranking in ballots:
            choice = next((o for o in ranking if o in counts), None)
            if choice is None:
                exhausted += weight
            else:
                counts[choice] += weight
        rounds.append({"round": len(rounds) + 1, "counts": counts, "exhausted": exhausted, "eliminated": None})
        live = sum(counts.values())
        majority = [o for o in remaining if counts[o] * 2 > live]
        if majority or live == 0 or len(remaining) <= 2:
            winners = majority or list(remaining)
            break
        # Lowest now; ties go back one round at a time; then the option listed last.
        candidates = list(remaining)
        for past in reversed(rounds):
            low = min(past["counts"][o] for o in candidates)
            candidates = [o for o in candidates if past["counts"][o] == low]
            if len(candidates) == 1:
                break
        out = candidates[-1] if len(candidates) > 1 else candidates[0]
        rounds[-1]["eliminated"] = out
        remaining.remove(out)
    return {"totals": dict(rounds[0]["counts"]), "rounds": rounds, "winners": winners, "tie": len(winners) > 1}


def poll_report(machine: Machine, poll: str) -> dict[str, Any]:
    """What the report prints per poll: status, counters, the recount, and per-unit roll-ups' sizes."""
    record = machine.state[f"poll/p/{poll}"]
    ballots = poll_ballots(machine, poll)
    counts = dict(machine.state[f"poll/n/{poll}"])
    report = {"poll": poll, "status": record["status"], "method": record["method"], "weights": record["weights"],
              "counts": counts, "result": count(record, ballots)}
    if "eligible" in record["units"][0]:
        # Turnout against the published eligible members (section 16.2), whole poll and per unit's own members.
        eligible = sum(u["eligible"] for u in record["units"])
        cast_by_unit: dict[str, int] = {}
        for unit, _, _ in ballots:
            cast_by_unit[unit] = cast_by_unit.get(unit, 0) + 1
        report["eligible"] = eligible
        report["turnout"] = _percent(counts["cast"], eligible)
        report["units"] = {u["id"]: {"eligible": u["eligible"], "cast": cast_by_unit.get(u["id"], 0),
                                     "turnout": _percent(cast_by_unit.get(u["id"], 0), u["eligible"])}
                           for u in record["units"]}
    return report


def _percent(part: int, whole: int) -> str | None:
    """A percentage with one decimal as text (the report is JSON; no float rounding surprises), None over 0."""
    if whole == 0:
        return None
    tenths = (part * 1000 + whole // 2) // whole
    return f"{tenths // 10}.{tenths % 10}"

