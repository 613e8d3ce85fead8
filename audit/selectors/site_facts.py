"""What this site's database says about an election: check-ins, credentials issued, candidates, official result.

The dashboard sets these next to the ledger's figures; neither side is taken on trust.
Only counts leave this module: no names, no roll entries, nothing that links a voter to
a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from voting.models import Candidate, CheckIn, Election, ElectionTally, PollingStation, VoterRollEntry


@dataclass
class SiteFacts:
    station_names: dict[str, str] = field(default_factory=dict)
    roll_stations: set[str] = field(default_factory=set)  # codes of stations with voters on the roll
    checkins: dict[str, dict[str, int]] = field(default_factory=dict)  # code -> {"committed", "pending"}
    credentials_issued: int = 0
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (ledger id, name)
    official: dict[str, Any] | None = None


def get_site_facts(election: Election) -> SiteFacts:
    """Counts per station and the stored tally; six small queries whatever the roll size."""
    facts = SiteFacts()
    roll = VoterRollEntry.objects.filter(election=election)
    facts.roll_stations = set(roll.values_list("station__code", flat=True).distinct())
    facts.credentials_issued = roll.filter(status=VoterRollEntry.Status.CREDENTIAL_ISSUED).count()
    for code, state, count in (
        CheckIn.objects.filter(election=election).values_list("station__code", "ledger_state")
        .annotate(n=Count("id")).order_by()
    ):
        bucket = facts.checkins.setdefault(code, {"committed": 0, "pending": 0})
        key = "committed" if state == CheckIn.LedgerState.COMMITTED else "pending"
        bucket[key] += count
    codes = facts.roll_stations | set(facts.checkins)
    facts.station_names = dict(PollingStation.objects.filter(code__in=codes).values_list("code", "name"))
    facts.candidates = [(c.ledger_id, c.name) for c in Candidate.objects.filter(election=election).order_by("position")]
    tally = ElectionTally.objects.filter(election=election).first()
    if tally is not None:
        facts.official = {
            "candidates": dict(tally.ledger_tally.get("candidates") or {}),
            "taken_at": tally.taken_at.isoformat(), "ledger_height": tally.ledger_height,
            "published": election.status == "published",
        }
    return facts
