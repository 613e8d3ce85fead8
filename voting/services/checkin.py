"""Checking a voter in at a polling station: once per voter, recorded anonymously on the ledger.

The roll entry is claimed with a conditional update (eligible -> checked_in) so two poll
workers, or a poll worker and the mobile credential service, can never both win. The
ledger then records HMAC(election secret, roll entry): one check-in per voter, enforced
by the contract, without any personal data. If the ledger does not confirm, the claim is
undone and the poll worker sees that nothing happened. No token is named anywhere: the
voter draws a card at random from the station's box.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .. import lifecycle, pii
from ..errors import (
    NationalIdMismatch,
    VoterAlreadyCheckedIn,
    VoterHasMobileCredential,
    VoterNotFound,
    WrongStation,
)
from ..ledger_gateway import get_gateway
from ..models import CheckIn, Election, PollingStation, VoterRollEntry
from .audit import record_action
from .live import announce_turnout

logger = logging.getLogger(__name__)
Status = VoterRollEntry.Status


def validate_check_in(entry: VoterRollEntry, station: PollingStation, national_id: str) -> None:
    """Refuse with a specific reason: already checked in, mobile credential, wrong station, ID mismatch."""
    if entry.status == Status.CHECKED_IN:
        raise VoterAlreadyCheckedIn(detail={"roll_number": entry.roll_number})
    if entry.status == Status.CREDENTIAL_ISSUED:
        raise VoterHasMobileCredential(detail={"roll_number": entry.roll_number})
    if entry.station_id != station.pk:
        raise WrongStation(detail={"station": str(entry.station), "roll_number": entry.roll_number})
    if national_id.strip():
        normalised = pii.normalise_national_id(national_id)
        if normalised is None or not entry.national_id_hmac or (
            pii.compute_national_id_hmac(normalised) != entry.national_id_hmac
        ):
            raise NationalIdMismatch(detail={"roll_number": entry.roll_number})


def check_in_voter(
    actor: AbstractBaseUser, election: Election, station: PollingStation, entry_id: int, *, now: datetime,
    national_id: str = "",
) -> CheckIn:
    """Check the voter in (DB claim, then ledger, then confirm); any refusal leaves everything unchanged."""
    lifecycle.validate_activity(election.status, "check_in")
    entry = VoterRollEntry.objects.filter(election=election, pk=entry_id).select_related("station").first()
    if entry is None:
        raise VoterNotFound(detail={"entry": entry_id})
    validate_check_in(entry, station, national_id)
    checkin_id = pii.compute_checkin_id(election.checkin_secret, entry.pk)
    with transaction.atomic():
        claimed = VoterRollEntry.objects.filter(pk=entry.pk, status=Status.ELIGIBLE).update(
            status=Status.CHECKED_IN, status_changed_at=now
        )
        if not claimed:  # someone else won the race: report their outcome
            entry.refresh_from_db()
            validate_check_in(entry, station, "")
        checkin = CheckIn.objects.create(
            election=election, roll_entry=entry, station=station, checked_in_by=actor, checked_in_at=now,
            ledger_checkin_id=checkin_id,
        )
    try:
        tx_id = get_gateway().check_in(election=election.ledger_id, station=station.code, checkin_id=checkin_id)
    except Exception:  # LedgerUnavailable, LedgerRejected, or a bug: never leave a half check-in
        _undo_claim(entry, checkin)
        raise
    with transaction.atomic():
        CheckIn.objects.filter(pk=checkin.pk).update(ledger_state=CheckIn.LedgerState.COMMITTED, ledger_tx_id=tx_id)
        record_action(actor, "voter_checked_in", now, election=election, station=station.code, ledger_tx=tx_id)
    transaction.on_commit(lambda: announce_turnout(election.pk))
    checkin.refresh_from_db()
    return checkin


def _undo_claim(entry: VoterRollEntry, checkin: CheckIn) -> None:
    """The ledger did not confirm: give the voter their eligibility back."""
    with transaction.atomic():
        CheckIn.objects.filter(pk=checkin.pk, ledger_state=CheckIn.LedgerState.PENDING).delete()
        VoterRollEntry.objects.filter(pk=entry.pk, status=Status.CHECKED_IN).update(status=Status.ELIGIBLE)
    logger.warning("check-in of roll entry %s undone: the ledger did not confirm", entry.pk)
