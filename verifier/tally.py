"""The tally (section 10.9), its invariants after every block, and the observers' reconciliation.

The invariants are checked from running aggregates kept by the machine, never by scanning
the whole state, so checking them after every block costs nothing per vote. The
reconciliation produces findings: a station with more votes than check-ins is a warning
the report names, because the ledger cannot refuse it (tokens may be minted early).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .contracts import Machine
from .errors import Invalid

COUNTERS = ("registered", "minted", "checkins", "spent")


def elections(machine: Machine) -> list[str]:
    return sorted(machine.candidates)


def compute_tally(machine: Machine, election: str) -> dict[str, Any]:
    """The ``tally`` of one election in the shape of chain.json's ``tallies``."""
    state = machine.state
    record = state[f"vote/e/{election}"]
    stations = {sid: dict(state[f"vote/s/{election}/{sid}"]) for sid in record["stations"]}
    return {
        "election": election,
        "status": record["status"],
        "choices": record["choices"],
        "candidates": {c["id"]: state.get(f"vote/b/{election}/{c['address']}", 0) for c in record["candidates"]},
        "unused": state.get(f"vote/u/{election}", 0),
        "stations": stations,
        "totals": {name: sum(s[name] for s in stations.values()) for name in COUNTERS},
    }


def check_invariants(machine: Machine, election: str) -> None:
    """Raise ``invariant_violated`` when the counters of section 10.9 disagree."""
    state = machine.state
    record = state[f"vote/e/{election}"]
    choices = record["choices"]
    stations = [state[f"vote/s/{election}/{sid}"] for sid in record["stations"]]
    minted = sum(s["minted"] for s in stations)
    spent = sum(s["spent"] for s in stations)
    unused = state.get(f"vote/u/{election}", 0)

    def fail(message: str) -> Invalid:
        return Invalid("invariant_violated", f"election {election}: {message}", field="invariants", election=election)

    if machine.token_count.get(election, 0) != minted:
        raise fail("the number of minted tokens differs from the stations' minted counters")
    if machine.balance_sum.get(election, 0) + unused != choices * minted:
        raise fail("balances plus unused units differ from the units minted")
    if choices == 1 and machine.candidate_sum.get(election, 0) != spent:
        raise fail("the candidates' balances differ from the votes spent")
    if machine.tokens_at_zero.get(election, 0) != spent:
        raise fail("the tokens at zero differ from the votes spent")
    if "credential_key" in record and "mobile" in record["stations"]:
        if machine.credential_count.get(election, 0) != state[f"vote/s/{election}/mobile"]["minted"]:
            raise fail("the credentials redeemed differ from the mobile station's minted counter")
    for sid, s in zip(record["stations"], stations):
        if not (s["spent"] <= s["minted"] <= s["registered"] and s["checkins"] <= s["registered"]):
            raise fail(f"station {sid}: counters out of order (spent <= minted <= registered, checkins <= registered)")


@dataclass(frozen=True)
class Finding:
    """One observation of the report: ``warning`` findings are named, ``info`` just reported."""

    level: str
    code: str
    message: str
    election: str | None = None
    station: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def reconcile(machine: Machine, election: str) -> list[Finding]:
    """Per-station reconciliation: check-ins vs spent, minted vs spent vs unspent, credentials."""
    state = machine.state
    record = state[f"vote/e/{election}"]
    has_credentials = "credential_key" in record
    findings = []
    for sid in record["stations"]:
        s = state[f"vote/s/{election}/{sid}"]
        unspent = s["minted"] - s["spent"]
        if has_credentials and sid == "mobile":
            findings.append(Finding("info", "mobile_reconciled",
                                    f"credentials redeemed {s['minted']}, voted {s['spent']}, unspent {unspent}",
                                    election, sid))
        elif s["spent"] > s["checkins"]:
            findings.append(Finding("warning", "votes_exceed_checkins",
                                    f"{s['spent']} votes but only {s['checkins']} check-ins "
                                    f"(minted {s['minted']}, unspent {unspent})", election, sid))
    return findings


def compare_result(tally: dict[str, Any], published: dict[str, Any]) -> list[str]:
    """The fields where a published result differs from the re-derived tally (empty: agree)."""
    differences = []
    for name in ("candidates", "totals", "stations", "unused", "choices"):
        if name in published and published[name] != tally[name]:
            differences.append(name)
    return differences
