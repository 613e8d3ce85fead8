"""Reads of the kiosk app: which elections a booth serves and what its ballot screen needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from voting.lifecycle import Status
from voting.models import Election, Kiosk, TokenBatch
from voting.services.elections import get_ballot_choices

from .errors import ElectionClosed, ElectionNotOpen, ElectionNotServed, KioskError, TokenWrongElection

# Statuses after voting; a card of such an election gets "closed", not "wrong election".
AFTER_VOTING = frozenset({Status.CLOSED, Status.TALLIED, Status.PUBLISHED})


def get_served_elections(kiosk: Kiosk, now: datetime) -> QuerySet[Election]:
    """Open elections whose cards were issued for the kiosk's station and whose window includes ``now``."""
    station_elections = TokenBatch.objects.filter(
        station_id=kiosk.station_id, state=TokenBatch.State.ISSUED
    ).values("election_id")
    return (
        Election.objects.filter(pk__in=station_elections, status=Status.OPEN, opens_at__lte=now, closes_at__gt=now)
        .prefetch_related("candidates")
        .order_by("opens_at", "pk")
    )


def access_served_election(kiosk: Kiosk, ledger_id: str, now: datetime, *, not_found: type[KioskError]) -> Election:
    """The election ``ledger_id`` if this kiosk takes votes for it now; otherwise the precise reason.

    Not open yet and already closed get their own codes (the voter is told to ask a poll
    worker); an election this station does not hold raises ``not_found``.
    """
    election = Election.objects.filter(ledger_id=ledger_id).first()
    if election is None:
        raise not_found(detail={"election": ledger_id[:64]})
    if election.status in AFTER_VOTING or now >= election.closes_at:
        raise ElectionClosed(detail={"election": ledger_id})
    if election.status != Status.OPEN or now < election.opens_at:
        raise ElectionNotOpen(detail={"election": ledger_id})
    served = get_served_elections(kiosk, now).filter(pk=election.pk).first()
    if served is None:
        raise not_found(detail={"election": ledger_id})
    return served


def access_election_for_token(kiosk: Kiosk, ledger_id: str, now: datetime) -> Election:
    return access_served_election(kiosk, ledger_id, now, not_found=TokenWrongElection)


def access_election_for_vote(kiosk: Kiosk, ledger_id: str, now: datetime) -> Election:
    return access_served_election(kiosk, ledger_id, now, not_found=ElectionNotServed)


@dataclass(frozen=True)
class BallotCandidate:
    id: str  # ledger candidate id (c1, c2...)
    position: int
    name: str
    party: str
    address: str


def describe_ballot(election: Election) -> dict[str, Any]:
    """The ballot as the kiosk page draws it: kind, how many marks, candidates with ledger addresses."""
    candidates = [
        BallotCandidate(c.ledger_id, c.position, c.name, c.party, c.ledger_address).__dict__
        for c in election.candidates.all()
    ]
    return {
        "id": election.ledger_id,
        "title": election.title,
        "kind": election.kind,
        "choices": get_ballot_choices(election),
        "opens_at": election.opens_at.isoformat(),
        "closes_at": election.closes_at.isoformat(),
        "candidates": candidates,
    }


def describe_session(kiosk: Kiosk, chain: str, now: datetime) -> dict[str, Any]:
    """Everything the booth page needs after start-up (no secrets: the device credential stays in its cookie)."""
    return {
        "kiosk": {"label": kiosk.label, "station": {"code": kiosk.station.code, "name": kiosk.station.name}},
        "chain": chain,
        "elections": [describe_ballot(e) for e in get_served_elections(kiosk, now)],
    }
