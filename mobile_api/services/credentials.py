"""The anonymous credential: a blind signature for a device that passed the code check.

The roll entry moves eligible -> credential_issued with the same conditional update the
polling-station check-in uses (eligible -> checked_in), inside the transaction that records
the session's blinded-message hash, so a voter can never both check in and get a credential.
The signature is computed before the transaction (it is deterministic: a retry with the same
blinded message gets the same bytes back, so nothing but its hash is stored); a different
blinded message for a session that already has one is refused.

A phone that lost the answer *and* its session (the tab was reloaded while the request was in
flight) keeps the blinded message on the device, verifies again by SMS and resends it under
the new session: if an earlier session of the same roll entry recorded that very blinded
message, the same signature is returned. That gives nothing new to anyone: it is the bytes
the voter was already issued, they unblind only with the secret kept on that phone, and the
credential still mints once. It works until the old session is pruned
(``housekeeping.prune_expired``).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from django.db import transaction

from ledger.core import blindrsa
from ledger.core.errors import BlindSigningFailed
from voting.lifecycle import Status
from voting.models import VoterRollEntry
from voting.services.live import announce_turnout

from ..credential_keys import load_private_key
from ..errors import (
    BlindedMessageInvalid,
    CredentialAlreadyIssued,
    MobileElectionNotOpen,
    SessionInvalid,
    VoterCheckedIn,
)
from ..models import DeviceSession
from .otp import compute_sha256

RollStatus = VoterRollEntry.Status


def authenticate_device(token: str, now: datetime) -> DeviceSession:
    """The live session for a bearer token, or SessionInvalid."""
    session = (
        DeviceSession.objects.filter(token_sha256=compute_sha256(token), expires_at__gt=now)
        .select_related("election").first()
    )
    if session is None:
        raise SessionInvalid()
    return session


def issue_blind_signature(session: DeviceSession, blinded_msg: bytes, now: datetime) -> bytes:
    """Blind-sign ``blinded_msg`` for the session's voter, once; see the module docstring."""
    election = session.election
    if election.status != Status.OPEN:
        raise MobileElectionNotOpen(detail={"election": election.ledger_id, "status": election.status})
    key = load_private_key(election.ledger_id)
    try:
        blind_sig = blindrsa.blind_sign(key, blinded_msg)
    except BlindSigningFailed as exc:
        raise BlindedMessageInvalid(detail={"bytes": (key.key_size + 7) // 8}) from exc
    blinded_sha256 = hashlib.sha256(blinded_msg).hexdigest()
    with transaction.atomic():
        current = DeviceSession.objects.select_for_update().get(pk=session.pk)
        if current.blinded_sha256:
            if hmac.compare_digest(current.blinded_sha256, blinded_sha256):
                return blind_sig  # a retry after a lost answer
            raise CredentialAlreadyIssued()
        claimed = VoterRollEntry.objects.filter(pk=current.roll_entry_id, status=RollStatus.ELIGIBLE).update(
            status=RollStatus.CREDENTIAL_ISSUED, status_changed_at=now
        )
        if not claimed:
            status = VoterRollEntry.objects.filter(pk=current.roll_entry_id).values_list("status", flat=True).first()
            if status == RollStatus.CHECKED_IN:
                raise VoterCheckedIn()
            if not has_issued_for(current, blinded_sha256):
                raise CredentialAlreadyIssued()
            DeviceSession.objects.filter(pk=current.pk).update(blinded_sha256=blinded_sha256)
            return blind_sig  # the same request under a new session, after the first answer was lost
        DeviceSession.objects.filter(pk=current.pk).update(blinded_sha256=blinded_sha256)
        transaction.on_commit(lambda: announce_turnout(election.pk))  # dashboards count mobile credentials
    return blind_sig


def has_issued_for(session: DeviceSession, blinded_sha256: str) -> bool:
    """True when another session of the same voter in the same election was signed this blinded message."""
    return (
        DeviceSession.objects.filter(
            election_id=session.election_id, roll_entry_id=session.roll_entry_id, blinded_sha256=blinded_sha256
        ).exclude(pk=session.pk).exists()
    )
