"""Everything the observer dashboard can find wrong, each with a stable code and a sentence for people.

Codes are part of the snapshot JSON (``anomalies[].code``), so observers' scripts can
alert on them: never rename one once released. The sentence is rendered in the reader's
language when the snapshot is shown, from the anomaly's ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Severity(str, Enum):
    CRITICAL = "critical"  # the count or the chain may be wrong
    WARNING = "warning"  # something to look at; may resolve itself (a node restarting)
    INFO = "info"


class Code(str, Enum):
    NO_NODE_REACHABLE = "no_node_reachable"
    NODE_UNREACHABLE = "node_unreachable"
    NODE_DIVERGED = "node_diverged"
    NODE_LAGGING = "node_lagging"
    LEDGER_UNAVAILABLE = "ledger_unavailable"
    ELECTION_NOT_ON_LEDGER = "election_not_on_ledger"
    VOTES_EXCEED_CHECKINS = "votes_exceed_checkins"
    CHECKINS_MISMATCH = "checkins_mismatch"
    STATION_NOT_IN_ROLL = "station_not_in_roll"
    MOBILE_MINTED_EXCEEDS_ISSUED = "mobile_minted_exceeds_issued"
    TALLY_UNBALANCED = "tally_unbalanced"
    RECOUNT_MISMATCH = "recount_mismatch"
    RESULT_MISMATCH = "result_mismatch"
    CANDIDATES_DIFFER = "candidates_differ"
    EQUIVOCATION_RECORDED = "equivocation_recorded"
    CONTRACT_PIN_MISMATCH = "contract_pin_mismatch"
    CONTRACT_NOT_PINNED = "contract_not_pinned"


SEVERITIES: dict[Code, Severity] = {
    Code.NO_NODE_REACHABLE: Severity.CRITICAL,
    Code.NODE_UNREACHABLE: Severity.WARNING,
    Code.NODE_DIVERGED: Severity.CRITICAL,
    Code.NODE_LAGGING: Severity.WARNING,
    Code.LEDGER_UNAVAILABLE: Severity.CRITICAL,
    Code.ELECTION_NOT_ON_LEDGER: Severity.INFO,
    Code.VOTES_EXCEED_CHECKINS: Severity.CRITICAL,
    Code.CHECKINS_MISMATCH: Severity.CRITICAL,
    Code.STATION_NOT_IN_ROLL: Severity.WARNING,
    Code.MOBILE_MINTED_EXCEEDS_ISSUED: Severity.CRITICAL,
    Code.TALLY_UNBALANCED: Severity.CRITICAL,
    Code.RECOUNT_MISMATCH: Severity.CRITICAL,
    Code.RESULT_MISMATCH: Severity.CRITICAL,
    Code.CANDIDATES_DIFFER: Severity.CRITICAL,
    Code.EQUIVOCATION_RECORDED: Severity.CRITICAL,
    Code.CONTRACT_PIN_MISMATCH: Severity.CRITICAL,
    Code.CONTRACT_NOT_PINNED: Severity.WARNING,
}

MESSAGES: dict[Code, str | Promise] = {
    Code.NO_NODE_REACHABLE: _("No configured ledger node answered; nothing on this page can be checked right now."),
    Code.NODE_UNREACHABLE: _("Node %(node)s does not answer (%(error)s)."),
    Code.NODE_DIVERGED: _(
        "Node %(node)s holds a different block at height %(height)s than the majority of the nodes: "
        "the chains have diverged."
    ),
    Code.NODE_LAGGING: _("Node %(node)s is %(behind)s blocks behind the highest node (tolerated: %(threshold)s)."),
    Code.LEDGER_UNAVAILABLE: _("The election's state could not be read from the ledger (%(reason)s)."),
    Code.ELECTION_NOT_ON_LEDGER: _("The election is not recorded on the ledger yet (it is still a draft)."),
    Code.VOTES_EXCEED_CHECKINS: _(
        "Station %(station)s: %(spent)s votes were cast with its tokens but only %(checkins)s voters checked in."
    ),
    Code.CHECKINS_MISMATCH: _(
        "Station %(station)s: the ledger records %(chain)s check-ins, the poll workers' records %(db)s "
        "(%(pending)s still being written)."
    ),
    Code.STATION_NOT_IN_ROLL: _("Station %(station)s is registered on the ledger but has no voters on the roll."),
    Code.MOBILE_MINTED_EXCEEDS_ISSUED: _(
        "%(minted)s mobile tokens were minted with credentials, but only %(issued)s credentials were issued "
        "to voters on the roll."
    ),
    Code.TALLY_UNBALANCED: _(
        "The candidates' balances (%(balances)s) plus unmarked units (%(unused)s) do not equal the units spent "
        "(%(spent_units)s)."
    ),
    Code.RECOUNT_MISMATCH: _(
        "Candidate %(candidate)s: the vote transactions in the blocks add up to %(recount)s, "
        "the ledger's balance says %(ledger)s."
    ),
    Code.RESULT_MISMATCH: _(
        "Candidate %(candidate)s: the official result says %(official)s votes, the ledger says %(ledger)s."
    ),
    Code.CANDIDATES_DIFFER: _("The candidates recorded on the ledger differ from the candidates shown by this site."),
    Code.EQUIVOCATION_RECORDED: _(
        "Validator %(validator)s signed two different blocks at height %(height)s, round %(round)s (%(kind)s): "
        "equivocation evidence is on the chain."
    ),
    Code.CONTRACT_PIN_MISMATCH: _(
        "Contract %(contract)s: the chain pins source hash %(pinned)s, the code deployed here hashes to %(local)s."
    ),
    Code.CONTRACT_NOT_PINNED: _("Contract %(contract)s is deployed here but its source hash is not pinned on the chain."),
}


@dataclass(frozen=True)
class Anomaly:
    """One finding: a code, what it concerns (a node, station, candidate...) and the facts behind it."""

    code: Code
    subject: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return SEVERITIES[self.code]

    def describe(self) -> str:
        """The sentence in the active language (detail values filled in)."""
        template = str(MESSAGES[self.code])  # lazy: translated into the active language here
        try:
            return template % self.detail
        except (KeyError, TypeError, ValueError):  # a detail missing must not hide the finding
            return template

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "severity": self.severity.value, "subject": self.subject,
                "detail": self.detail, "message": self.describe()}


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def sort_anomalies(anomalies: list[Anomaly]) -> list[Anomaly]:
    """Most severe first, then in the order found."""
    return sorted(anomalies, key=lambda a: SEVERITY_ORDER[a.severity])
