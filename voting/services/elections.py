"""Creating and editing elections (while drafts) and moving them through the lifecycle.

Each lifecycle verb follows the same shape: a repeat of a done transition is a no-op;
the transition table says whether it may run; the ledger is changed first (and waited
for), then the status row is moved with a conditional update, then the action is audited.
If the ledger step fails nothing in the database changes; a retry is safe because the
gateway treats an already-reached ledger state as success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import lifecycle
from ..access import require_election_creator
from ..errors import (
    EarlyCloseNotConfirmed,
    InvalidElection,
    LedgerRejected,
    ScheduleNotReached,
    SchedulePassed,
    SetupIncomplete,
)
from ..ledger_gateway import get_gateway, to_ledger_ms
from ..lifecycle import Status
from ..models import Candidate, Election, ElectionRole, ElectionTally, Region, TokenBatch
from ..selectors import get_setup_checklist
from .audit import record_action

MAX_CANDIDATES = 200
MOBILE_STATION = "mobile"  # the vote contract's pseudo-station for credential mints (protocol 10.11)
YES_NO_ABSTAIN_OPTIONS = (gettext_lazy("Yes"), gettext_lazy("No"), gettext_lazy("Abstain"))


@dataclass(frozen=True)
class CandidateDraft:
    name: str
    party: str = ""


@dataclass(frozen=True)
class ElectionDraft:
    """What an official submits to create or edit an election."""

    title: str
    opens_at: datetime
    closes_at: datetime
    region: Region
    kind: str = Election.Kind.SINGLE
    description: str = ""
    max_choices: int = 1
    candidates: Sequence[CandidateDraft] = field(default_factory=tuple)
    mobile_voting: bool = False


def get_effective_candidates(draft: ElectionDraft) -> list[CandidateDraft]:
    """The candidates to store: fixed options for yes/no/abstain, else the non-blank submitted ones."""
    if draft.kind == Election.Kind.YES_NO_ABSTAIN:
        return [CandidateDraft(str(option)) for option in YES_NO_ABSTAIN_OPTIONS]
    return [CandidateDraft(c.name.strip(), c.party.strip()) for c in draft.candidates if c.name.strip()]


def validate_election_draft(draft: ElectionDraft, now: datetime) -> None:
    """Raise InvalidElection with every problem, by form field."""
    errors: dict[str, list[str]] = {}

    def add(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    if not draft.title.strip():
        add("title", _("Enter a title."))
    if draft.kind not in Election.Kind.values:
        add("kind", _("Choose a ballot kind."))
    if draft.opens_at.tzinfo is None or draft.closes_at.tzinfo is None:
        add("opens_at", _("Times must include a time zone."))
    elif draft.closes_at <= draft.opens_at:
        add("closes_at", _("Closing must be after opening."))
    elif draft.closes_at <= now:
        add("closes_at", _("Closing must be in the future."))
    candidates = get_effective_candidates(draft)
    if draft.kind != Election.Kind.YES_NO_ABSTAIN:
        if len(candidates) < 2:
            add("candidates", _("Enter at least two candidates."))
        if len(candidates) > MAX_CANDIDATES:
            add("candidates", _("At most %(max)d candidates.") % {"max": MAX_CANDIDATES})
        names = [c.name.casefold() for c in candidates]
        if len(set(names)) != len(names):
            add("candidates", _("Two candidates have the same name."))
    if draft.kind == Election.Kind.APPROVAL and not 1 <= draft.max_choices < max(len(candidates), 2):
        add("max_choices", _("Choose between 1 and one less than the number of candidates."))
    if errors:
        raise InvalidElection(detail={"errors": errors})


def _apply_draft(election: Election, draft: ElectionDraft) -> None:
    election.title = draft.title.strip()
    election.description = draft.description.strip()
    election.kind = draft.kind
    election.max_choices = draft.max_choices if draft.kind == Election.Kind.APPROVAL else 1
    election.opens_at, election.closes_at, election.region = draft.opens_at, draft.closes_at, draft.region
    election.mobile_voting = draft.mobile_voting


def _replace_candidates(election: Election, draft: ElectionDraft) -> None:
    election.candidates.all().delete()
    Candidate.objects.bulk_create(
        Candidate(election=election, position=index, name=c.name, party=c.party)
        for index, c in enumerate(get_effective_candidates(draft), start=1)
    )


def create_election(actor: AbstractBaseUser, draft: ElectionDraft, now: datetime) -> Election:
    """Create a draft election with its candidates; the creator becomes its official."""
    require_election_creator(actor)
    validate_election_draft(draft, now)
    with transaction.atomic():
        election = Election(created_by=actor, status_changed_at=now)
        _apply_draft(election, draft)
        election.save()
        _replace_candidates(election, draft)
        ElectionRole.objects.create(
            election=election, user=actor, role=ElectionRole.Role.OFFICIAL, granted_by=actor, granted_at=now
        )
        record_action(actor, "election_created", now, election=election, title=election.title)
    return election


def update_election(actor: AbstractBaseUser, election: Election, draft: ElectionDraft, now: datetime) -> Election:
    """Edit a draft; scheduled elections are frozen because the ledger holds their candidates and times."""
    validate_election_draft(draft, now)
    with transaction.atomic():
        locked = Election.objects.select_for_update().get(pk=election.pk)
        lifecycle.validate_activity(locked.status, "edit")
        _apply_draft(locked, draft)
        locked.save()
        _replace_candidates(locked, draft)
        record_action(actor, "election_updated", now, election=locked, title=locked.title)
    return locked


def _move(actor: AbstractBaseUser, election: Election, action: str, now: datetime, **detail: object) -> Election:
    """Conditionally move the status row along ``action`` and audit it (a concurrent repeat is a no-op)."""
    transition = lifecycle.get_transition(action)
    with transaction.atomic():
        moved = Election.objects.filter(pk=election.pk, status=transition.source).update(
            status=transition.target, status_changed_at=now
        )
        if moved:
            record_action(actor, f"election_{action}", now, election=election, **detail)
    election.refresh_from_db()
    return election


def schedule_election(actor: AbstractBaseUser, election: Election, now: datetime) -> Election:
    """Freeze candidates and schedule by creating the election on the ledger."""
    if lifecycle.is_done(election.status, "schedule"):
        return election
    lifecycle.validate_transition(election.status, "schedule")
    candidates = list(election.candidates.all())
    if len(candidates) < 2:
        raise SetupIncomplete(detail={"missing": ["candidates"]})
    if election.closes_at <= now:
        raise SchedulePassed(detail={"closes_at": election.closes_at.isoformat()})
    gateway = get_gateway()
    credential_key = get_credential_key(election)
    tx_id = gateway.create_election(
        election=election.ledger_id, title=election.title, candidates=[(c.ledger_id, c.name) for c in candidates],
        opens_at_ms=to_ledger_ms(election.opens_at), closes_at_ms=to_ledger_ms(election.closes_at),
        choices=get_ballot_choices(election), credential_key=credential_key,
    )
    _validate_ledger_record(election, candidates, credential_key)
    register_mobile_station(election)
    return _move(actor, election, "schedule", now, ledger_tx=tx_id, ledger_election=election.ledger_id)


def get_credential_key(election: Election) -> str | None:
    """The election authority's RSA credential key (SPKI DER hex) for mobile voting, made on first use."""
    if not election.mobile_voting:
        return None
    from mobile_api.credential_keys import ensure_credential_key  # the key store lives with the mobile app

    return ensure_credential_key(election.ledger_id).hex()


def register_mobile_station(election: Election) -> None:
    """Register the ledger's ``mobile`` pseudo-station for the roll entries that have a phone number.

    Called when scheduling and again just before opening (the roll may still be imported while
    scheduled); the ledger accepts re-registration only before it opens (protocol 10.3, 10.11).
    """
    if not election.mobile_voting:
        return
    voters = election.roll.exclude(phone_hmac="").count()
    get_gateway().register_station(election=election.ledger_id, station=MOBILE_STATION, voters=voters)


def get_ballot_choices(election: Election) -> int:
    """Units per token on the ledger: k for approval (k-of-n), else 1."""
    return election.max_choices if election.kind == Election.Kind.APPROVAL else 1


def _validate_ledger_record(election: Election, candidates: list[Candidate], credential_key: str | None = None) -> None:
    """After a retried create, make sure the ledger holds what the database says (else refuse)."""
    record = get_gateway().get_election(election.ledger_id) or {}
    if record.get("credential_key") != credential_key:
        raise LedgerRejected(detail={"reason": "ledger_record_differs", "election": election.ledger_id})
    expected = [{"id": c.ledger_id, "name": c.name} for c in candidates]
    actual = [{"id": c["id"], "name": c["name"]} for c in record.get("candidates", [])]
    if actual != expected or record.get("opens_at") != to_ledger_ms(election.opens_at) or record.get(
        "closes_at"
    ) != to_ledger_ms(election.closes_at) or record.get("choices", 1) != get_ballot_choices(election):
        raise LedgerRejected(detail={"reason": "ledger_record_differs", "election": election.ledger_id})


def open_election(actor: AbstractBaseUser, election: Election, now: datetime) -> Election:
    """Open voting: only with a complete checklist and inside the scheduled window."""
    if lifecycle.is_done(election.status, "open"):
        return election
    lifecycle.validate_transition(election.status, "open")
    missing = [item.key for item in get_setup_checklist(election) if not item.done]
    if missing:
        raise SetupIncomplete(detail={"missing": missing})
    if now < election.opens_at:
        raise ScheduleNotReached(detail={"opens_at": election.opens_at.isoformat()})
    if now >= election.closes_at:
        raise SchedulePassed(detail={"closes_at": election.closes_at.isoformat()})
    if election.mobile_voting and (get_gateway().get_election(election.ledger_id) or {}).get("status") == "created":
        register_mobile_station(election)  # final phone-voter count; impossible once open on the ledger
    tx_id = get_gateway().open_election(election=election.ledger_id)
    return _move(actor, election, "open", now, ledger_tx=tx_id)


def close_election(actor: AbstractBaseUser, election: Election, now: datetime, *, confirm_early: bool = False) -> Election:
    """Close voting; before the scheduled time only with explicit confirmation."""
    if lifecycle.is_done(election.status, "close"):
        return election
    lifecycle.validate_transition(election.status, "close")
    early = now < election.closes_at
    if early and not confirm_early:
        raise EarlyCloseNotConfirmed(detail={"closes_at": election.closes_at.isoformat()})
    tx_id = get_gateway().close_election(election=election.ledger_id)
    return _move(actor, election, "close", now, ledger_tx=tx_id, early=early)


def tally_election(actor: AbstractBaseUser, election: Election, now: datetime) -> Election:
    """Read the count from the ledger (candidate balances) and recount it per station from the transfers."""
    if lifecycle.is_done(election.status, "tally"):
        return election
    lifecycle.validate_transition(election.status, "tally")
    gateway = get_gateway()
    ledger_tally = gateway.get_tally(election.ledger_id)
    station_of: dict[str, str] = {}
    for code, addresses in TokenBatch.objects.filter(election=election).values_list("station__code", "addresses"):
        station_of.update(dict.fromkeys(addresses, code))
    by_address = gateway.count_votes_by_station(election.ledger_id, station_of)
    id_of = {c.ledger_address: c.ledger_id for c in election.candidates.all()}
    station_results = {
        station: {id_of.get(address, address): votes for address, votes in counts.items()}
        for station, counts in by_address.items()
    }
    with transaction.atomic():
        ElectionTally.objects.get_or_create(
            election=election,
            defaults={"taken_at": now, "ledger_tally": ledger_tally, "station_results": station_results},
        )
        return _move(actor, election, "tally", now, votes=sum(ledger_tally.get("candidates", {}).values()))


def publish_results(actor: AbstractBaseUser, election: Election, now: datetime) -> Election:
    """Make the tallied results public."""
    if lifecycle.is_done(election.status, "publish"):
        return election
    lifecycle.validate_transition(election.status, "publish")
    return _move(actor, election, "publish", now)


def get_status_label(status: str) -> str:
    return str(Status(status).label)
