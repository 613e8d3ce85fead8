"""Reads for the phone: which elections offer mobile voting, and the one a request names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voting.ledger_gateway import get_gateway
from voting.lifecycle import Status
from voting.models import Election

from ..errors import MobileElectionNotFound, MobileElectionNotOpen

LISTED_STATUSES = (Status.SCHEDULED, Status.OPEN)


@dataclass(frozen=True)
class MobileElection:
    """What a device needs to vote: ids, schedule, candidates with ledger addresses, the credential key."""

    election: Election
    chain: str
    credential_key: str
    candidates: list[dict[str, Any]]


def get_mobile_election(ledger_id: str) -> Election:
    election = Election.objects.filter(ledger_id=ledger_id, mobile_voting=True).first()
    if election is None or election.status == Status.DRAFT:
        raise MobileElectionNotFound(detail={"election": ledger_id[:64]})
    return election


def get_open_mobile_election(ledger_id: str) -> Election:
    election = get_mobile_election(ledger_id)
    if election.status != Status.OPEN:
        raise MobileElectionNotOpen(detail={"election": election.ledger_id, "status": election.status})
    return election


def list_mobile_elections() -> list[MobileElection]:
    """Scheduled and open elections with mobile voting; the key is read from the ledger (the trusted copy)."""
    gateway = get_gateway()
    elections = Election.objects.filter(mobile_voting=True, status__in=LISTED_STATUSES).prefetch_related("candidates")
    listed = []
    for election in elections.order_by("opens_at", "pk"):
        record = gateway.get_election(election.ledger_id) or {}
        candidates = [
            {"id": c.ledger_id, "name": c.name, "party": c.party, "address": c.ledger_address}
            for c in election.candidates.all()
        ]
        listed.append(MobileElection(election, gateway.chain_id, str(record.get("credential_key", "")), candidates))
    return listed
