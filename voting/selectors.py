"""Reads of the voting app: setup checklist, turnout, voter lookup, results (no writes here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .errors import LedgerRejected, LedgerUnavailable
from .lifecycle import Status
from .models import Election, Kiosk, PollingStation, TokenBatch, VoterRollEntry

logger = logging.getLogger(__name__)
MAX_LOOKUP_RESULTS = 20


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str | Promise
    done: bool
    detail: str | Promise = ""


def get_roll_stations(election: Election) -> QuerySet[PollingStation]:
    """Stations with at least one voter of ``election``, annotated with roll counts by status."""
    return (
        PollingStation.objects.filter(roll_entries__election=election)
        .annotate(
            voters=Count("roll_entries", filter=Q(roll_entries__election=election)),
            eligible=Count(
                "roll_entries",
                filter=Q(roll_entries__election=election, roll_entries__status=VoterRollEntry.Status.ELIGIBLE),
            ),
            checked_in=Count(
                "roll_entries",
                filter=Q(roll_entries__election=election, roll_entries__status=VoterRollEntry.Status.CHECKED_IN),
            ),
            mobile=Count(
                "roll_entries",
                filter=Q(roll_entries__election=election, roll_entries__status=VoterRollEntry.Status.CREDENTIAL_ISSUED),
            ),
        )
        .select_related("region")
        .order_by("region_id", "code")
    )


def get_setup_checklist(election: Election) -> list[ChecklistItem]:
    """What must be done before voting can open; open_election refuses while any item is not done."""
    candidates = election.candidates.count()
    stations = list(get_roll_stations(election))
    station_ids = [s.pk for s in stations]
    issued = set(
        TokenBatch.objects.filter(election=election, state=TokenBatch.State.ISSUED).values_list("station_id", flat=True)
    )
    with_kiosk = set(
        Kiosk.objects.filter(station_id__in=station_ids, revoked_at__isnull=True).values_list("station_id", flat=True)
    )
    missing_tokens = [s.code for s in stations if s.pk not in issued]
    missing_kiosks = [s.code for s in stations if s.pk not in with_kiosk]
    return [
        ChecklistItem("candidates", _("At least two candidates or options"), candidates >= 2),
        ChecklistItem(
            "scheduled", _("Candidates and schedule recorded on the ledger"), election.status != Status.DRAFT
        ),
        ChecklistItem("roll", _("Voter roll imported"), bool(stations)),
        ChecklistItem(
            "tokens", _("Token cards issued for every polling station"), bool(stations) and not missing_tokens,
            ", ".join(missing_tokens),
        ),
        ChecklistItem(
            "kiosks", _("A kiosk registered at every polling station"), bool(stations) and not missing_kiosks,
            ", ".join(missing_kiosks),
        ),
    ]


def get_ledger_station_counts(election: Election) -> dict[str, dict[str, int]] | None:
    """Per-station counters from the ledger (registered, minted, checkins, spent), or None if unreachable."""
    if election.status == Status.DRAFT:
        return {}
    from .ledger_gateway import get_gateway

    try:
        tally = get_gateway().get_tally(election.ledger_id)
    except (LedgerUnavailable, LedgerRejected) as exc:
        logger.warning("turnout: ledger tally unavailable for %s: %s", election.ledger_id, exc.message)
        return None
    return {code: dict(counts) for code, counts in (tally.get("stations") or {}).items()}


def get_turnout(election: Election, *, ledger_counts: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """Turnout per station and region: roll size, check-ins, mobile credentials and votes cast (ledger)."""
    stations = []
    regions: dict[int, dict[str, Any]] = {}
    for station in get_roll_stations(election):
        votes = None if ledger_counts is None else ledger_counts.get(station.code, {}).get("spent", 0)
        row = {
            "code": station.code, "name": station.name, "region": station.region.name, "voters": station.voters,
            "checked_in": station.checked_in, "mobile": station.mobile, "votes": votes,
        }
        stations.append(row)
        region = regions.setdefault(
            station.region_id, {"name": station.region.name, "voters": 0, "checked_in": 0, "mobile": 0, "votes": 0}
        )
        for key in ("voters", "checked_in", "mobile"):
            region[key] += row[key]
        region["votes"] = None if votes is None or region["votes"] is None else region["votes"] + votes
    totals = {key: sum(r[key] for r in stations) for key in ("voters", "checked_in", "mobile")}
    totals["votes"] = None if ledger_counts is None else sum((r["votes"] or 0) for r in stations)
    for row in [*stations, *regions.values(), totals]:
        row["percent"] = round(100 * (row["checked_in"] + row["mobile"]) / row["voters"], 1) if row["voters"] else 0.0
    return {"election": election.pk, "stations": stations, "regions": list(regions.values()), "totals": totals}


def find_voters(
    election: Election, *, roll_number: str = "", name: str = "", birth_date: date | None = None,
    station: PollingStation | None = None,
) -> list[VoterRollEntry]:
    """Roll entries by exact roll number, or by exact name and birth date (at most MAX_LOOKUP_RESULTS)."""
    entries = VoterRollEntry.objects.filter(election=election).select_related("station")
    if roll_number.strip():
        entries = entries.filter(roll_number=roll_number.strip())
    elif name.strip() and birth_date is not None:
        entries = entries.filter(name=name.strip(), birth_date=birth_date)
    else:
        return []
    return list(entries.order_by("roll_number")[:MAX_LOOKUP_RESULTS])


def get_results(election: Election) -> dict[str, Any] | None:
    """The stored tally as rows for display and export, or None before the tally."""
    tally = getattr(election, "tally", None)
    if tally is None:
        return None
    counts = tally.ledger_tally.get("candidates", {})
    total = sum(counts.values())
    candidates = [
        {
            "position": c.position, "name": c.name, "party": c.party, "ledger_id": c.ledger_id,
            "address": c.ledger_address, "votes": counts.get(c.ledger_id, 0),
            "percent": round(100 * counts.get(c.ledger_id, 0) / total, 1) if total else 0.0,
        }
        for c in election.candidates.all()
    ]
    stations = {s.code: s for s in PollingStation.objects.select_related("region")}
    regions: dict[str, dict[str, int]] = {}
    station_rows = []
    for code, per_candidate in sorted(tally.station_results.items()):
        station = stations.get(code)
        region_name = station.region.name if station else str(_("Mobile and other"))
        bucket = regions.setdefault(region_name, {})
        for cid, votes in per_candidate.items():
            bucket[cid] = bucket.get(cid, 0) + votes
        station_rows.append({"code": code or "-", "name": station.name if station else "", "region": region_name,
                             "votes": per_candidate, "total": sum(per_candidate.values())})
    region_rows = [{"name": name, "votes": votes, "total": sum(votes.values())} for name, votes in regions.items()]
    return {
        "election": {"id": election.pk, "ledger_id": election.ledger_id, "title": election.title,
                     "status": election.status},
        "taken_at": tally.taken_at.isoformat(), "total": total, "candidates": candidates,
        "regions": region_rows, "stations": station_rows, "ledger_totals": tally.ledger_tally.get("totals", {}),
    }
