"""Voting in community polls: the browser signs, the server checks eligibility and relays.

Who may vote is fixed when the poll is published: ``snapshot_eligible`` writes one
registration row (no address yet) per member of the subtree, at the member's ballot unit,
and those rows are counted per unit into the ledger's ``eligible`` figures. A member who
joins later has no row and is refused (``poll_joined_after_publish``), so the ledger's count
of eligible members stays true.

Open (not anonymous) polls: the member's browser makes a P-256 key and signs its ``cast``;
the server claims the member's one registration for that address (a conditional update, so a
second key is refused), registers the address on the ledger with the member's unit and weight,
and relays the cast. The server therefore knows which address is whose; the page says so.

Anonymous polls: the member's session buys exactly one RSA blind signature per poll (the same
RFC 9474 scheme as mobile voting); the browser unblinds it into a credential and then sends
``enrol`` and ``cast`` *without* the session, so nothing on the server joins the member to the
address. Enrolment puts every voter at the root unit: anonymous polls have no per-unit results.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from ledger.core import blindrsa
from ledger.core.errors import BlindSigningFailed, LedgerError
from ledger.core.tx import MAX_TX_BYTES, Transaction
from mobile_api.credential_keys import ensure_credential_key, load_private_key
from voting.ledger_gateway import CommitOutcome, get_gateway

from .. import ledger as poll_ledger
from ..models import Member, Membership, Poll, PollRegistration
from ..poll_errors import (
    PollAlreadyRegistered,
    PollBlindedMessageInvalid,
    PollCredentialAlreadyIssued,
    PollJoinedAfterPublish,
    PollNotEligible,
    PollNotOpen,
    PollTxInvalid,
    PollTxRejected,
    PollWrongStatus,
)

Status = Poll.Status


# --- eligibility --------------------------------------------------------------------------------


def get_member_units(poll: Poll, member: Member | None = None) -> dict[int, str]:
    """{member id: unit} for members of the poll's subtree: each member's deepest node (lowest id on a tie).

    A member in several nodes of the subtree votes once, counted at the most specific node.
    """
    rows = Membership.objects.filter(community__path__startswith=poll.community.path)
    if member is not None:
        rows = rows.filter(member=member)
    chosen: dict[int, tuple[int, int]] = {}
    for member_id, community_id, depth in rows.values_list("member_id", "community_id", "community__depth"):
        best = chosen.get(member_id)
        if best is None or (-depth, community_id) < (-best[0], best[1]):
            chosen[member_id] = (depth, community_id)
    return {member_id: f"c{community_id}" for member_id, (_, community_id) in chosen.items()}


def get_registration(poll: Poll, member: Member | None) -> PollRegistration | None:
    if member is None:
        return None
    return PollRegistration.objects.filter(poll=poll, member=member).first()


def snapshot_eligible(poll: Poll, now: datetime) -> dict[str, int]:
    """Write the publication snapshot (one row per eligible member, weight 1) and count it per unit.

    Weighted polls write their rows with weights (``predictions.snapshot_weights``) before
    calling this; rows already there are kept (``ignore_conflicts``).
    """
    rows = [PollRegistration(poll=poll, member_id=member_id, unit=unit, weight=1, created_at=now)
            for member_id, unit in get_member_units(poll).items()]
    PollRegistration.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return count_eligible(poll)


def count_eligible(poll: Poll) -> dict[str, int]:
    """{unit: members whose ballot unit it is} from the publication snapshot."""
    counts: dict[str, int] = {}
    for unit in PollRegistration.objects.filter(poll=poll).values_list("unit", flat=True).iterator():
        counts[unit] = counts.get(unit, 0) + 1
    return counts


def get_eligible_registration(poll: Poll, member: Member | None) -> PollRegistration:
    """The member's row from the publication snapshot; a member without one is refused with the reason."""
    registration = get_registration(poll, member)
    if registration is not None:
        return registration
    if member is not None and member.pk in get_member_units(poll, member):
        raise PollJoinedAfterPublish(detail={"poll": poll.ledger_id})
    raise PollNotEligible(detail={"poll": poll.ledger_id})


# --- transactions from the browser --------------------------------------------------------------


def parse_poll_tx(raw: Any, poll: Poll, expected_type: str) -> Transaction:
    """A decoded, signature-checked ``poll`` transaction of ``expected_type`` for this very poll."""
    try:
        tx = Transaction.from_dict(raw)
    except LedgerError as exc:
        raise PollTxInvalid(detail={"reason": exc.code}) from exc
    if len(tx.to_bytes()) > MAX_TX_BYTES:
        raise PollTxInvalid(detail={"reason": "too_large", "limit": MAX_TX_BYTES})
    if tx.contract != poll_ledger.POLL_CONTRACT or tx.type != expected_type:
        raise PollTxInvalid(detail={"reason": "wrong_type", "expected": expected_type})
    if tx.payload.get("poll") != poll.ledger_id:
        raise PollTxInvalid(detail={"reason": "wrong_poll"})
    if tx.chain != get_gateway().chain_id:
        raise PollTxInvalid(detail={"reason": "wrong_chain"})
    try:
        tx.verify_signature()
    except LedgerError as exc:
        raise PollTxInvalid(detail={"reason": exc.code}) from exc
    return tx


def _relay(tx: Transaction) -> CommitOutcome:
    """Relay and wait for finality; a retry of the same transaction answers with the original receipt."""
    outcome = get_gateway().relay(tx)
    if not outcome.committed:
        raise PollTxRejected(outcome.code or "tx_rejected")
    return outcome


def _require_open(poll: Poll, now: datetime) -> None:
    if poll.status != Status.OPEN or now >= poll.closes_at:
        raise PollNotOpen(detail={"poll": poll.ledger_id, "status": poll.status})


# --- open polls ----------------------------------------------------------------------------------


def cast_registered(member: Member | None, poll: Poll, raw_tx: Any, now: datetime) -> CommitOutcome:
    """Register the member's address (once, with unit and weight) and relay the member-signed cast."""
    if poll.anonymous:
        raise PollWrongStatus(detail={"poll": poll.ledger_id, "reason": "anonymous_poll"})
    _require_open(poll, now)
    registration = get_eligible_registration(poll, member)
    tx = parse_poll_tx(raw_tx, poll, "cast")
    registration = _claim_address(poll, registration, tx.sender)
    if not registration.register_tx:
        voter = {"address": registration.address, "unit": registration.unit, "weight": registration.weight}
        (tx_id,) = poll_ledger.register_voters(get_gateway(), poll.ledger_id, [voter])
        PollRegistration.objects.filter(pk=registration.pk).update(register_tx=tx_id)
    return _relay(tx)


def _claim_address(poll: Poll, registration: PollRegistration, address: str) -> PollRegistration:
    """The member's one registration, bound to ``address``; another address is refused (race-safe)."""
    if registration.address != address:
        claimed = PollRegistration.objects.filter(pk=registration.pk, address="").update(address=address)
        registration.refresh_from_db()
        if not claimed and registration.address != address:
            raise PollAlreadyRegistered(detail={"poll": poll.ledger_id})
    return registration


# --- anonymous polls -------------------------------------------------------------------------------


def get_key_name(poll: Poll) -> str:
    """The credential key's file name in the mobile credential key directory (0600, never in the DB)."""
    return f"poll.{poll.ledger_id}"


def ensure_poll_credential_key(poll: Poll) -> bytes:
    """The poll's RSA public key (SPKI DER), made on first use like an election's mobile key."""
    return ensure_credential_key(get_key_name(poll))


def get_poll_credential_key_hex(poll: Poll) -> str:
    return blindrsa.public_key_der(load_private_key(get_key_name(poll)).public_key()).hex()


def issue_poll_credential(member: Member | None, poll: Poll, blinded_msg: bytes, now: datetime) -> bytes:
    """Blind-sign the member's blinded credential request, once per member per poll (a retry of the
    same request gets the same signature; a different one is refused)."""
    if not poll.anonymous:
        raise PollWrongStatus(detail={"poll": poll.ledger_id, "reason": "not_anonymous"})
    if poll.status not in (Status.SCHEDULED, Status.OPEN) or now >= poll.closes_at:
        raise PollNotOpen(detail={"poll": poll.ledger_id, "status": poll.status})
    registration = get_eligible_registration(poll, member)  # enrolment puts every voter at the root
    key = load_private_key(get_key_name(poll))
    try:
        blind_sig = blindrsa.blind_sign(key, blinded_msg)
    except BlindSigningFailed as exc:
        raise PollBlindedMessageInvalid(detail={"bytes": (key.key_size + 7) // 8}) from exc
    digest = hashlib.sha256(blinded_msg).hexdigest()
    claimed = PollRegistration.objects.filter(pk=registration.pk, blinded_sha256="").update(blinded_sha256=digest)
    if not claimed:
        registration.refresh_from_db()
        if not hmac.compare_digest(registration.blinded_sha256, digest):
            raise PollCredentialAlreadyIssued(detail={"poll": poll.ledger_id})
    return blind_sig


def relay_anonymous(poll: Poll, raw_tx: Any, expected_type: str, now: datetime) -> CommitOutcome:
    """Relay an anonymous poll's ``enrol`` or ``cast`` signed by the voter's own key (no session here)."""
    if not poll.anonymous:
        raise PollWrongStatus(detail={"poll": poll.ledger_id, "reason": "not_anonymous"})
    if expected_type == "cast":
        _require_open(poll, now)
    elif poll.status not in (Status.SCHEDULED, Status.OPEN):
        raise PollNotOpen(detail={"poll": poll.ledger_id, "status": poll.status})
    return _relay(parse_poll_tx(raw_tx, poll, expected_type))
