"""SMS one-time codes: request (same answer whether or not the voter is on the roll) and verify.

A code is 7+ random decimal digits (>= 20 bits), stored only as HMAC-SHA256 under a server key
together with its challenge, so a database dump cannot be brute-forced offline. A challenge
expires after ``OTP_TTL_S``, verifies at most once, and locks after ``OTP_MAX_ATTEMPTS`` wrong
codes (counted with a conditional update, so concurrent guesses cannot exceed the limit).
Unknown phone numbers get a challenge row too, whose stored hash matches no code: the device
sees the same 202 answer, the same attempt counting and the same errors, and no SMS is sent.
Rate limits per phone number and per client address are the API's throttles.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils.translation import gettext as _

from voting import pii
from voting.models import Election, VoterRollEntry

from .. import sms
from ..config import get_mobile_settings
from ..errors import OtpChallengeUnknown, OtpExpired, OtpInvalid, OtpLocked, OtpUsed
from ..models import DeviceSession, OtpChallenge
from .elections import get_open_mobile_election

logger = logging.getLogger(__name__)
_NEVER_A_CODE = "x"  # codes are digits only, so a hash over this marker can never verify


@dataclass(frozen=True)
class IssuedChallenge:
    challenge: str
    expires_in: int


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_in: int


def compute_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def compute_code_hmac(challenge_sha256: str, code: str) -> str:
    key = get_mobile_settings().otp_hmac_key
    return hmac.new(key, f"otp:{challenge_sha256}:{code}".encode(), hashlib.sha256).hexdigest()


def generate_code() -> str:
    digits = get_mobile_settings().otp_digits
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def find_roll_entry(election: Election, normalised_phone: str, birth_date: date) -> VoterRollEntry | None:
    """The roll entry for this phone and birth date, eligible ones first (twins may share a phone)."""
    eligible_first = Case(When(status=VoterRollEntry.Status.ELIGIBLE, then=Value(0)), default=Value(1),
                          output_field=IntegerField())
    return (
        VoterRollEntry.objects.filter(
            election=election, phone_hmac=pii.compute_phone_hmac(normalised_phone), birth_date=birth_date
        )
        .order_by(eligible_first, "pk")
        .first()
    )


def request_code(*, election_id: str, normalised_phone: str, birth_date: date, now: datetime) -> IssuedChallenge:
    """Create a challenge and text the code if the roll matches; the answer is the same either way."""
    election = get_open_mobile_election(election_id)
    config = get_mobile_settings()
    entry = find_roll_entry(election, normalised_phone, birth_date)
    challenge = secrets.token_urlsafe(32)
    challenge_sha256 = compute_sha256(challenge)
    code = generate_code() if entry is not None else _NEVER_A_CODE
    OtpChallenge.objects.create(
        election=election, roll_entry=entry, challenge_sha256=challenge_sha256,
        code_hmac=compute_code_hmac(challenge_sha256, code), created_at=now,
        expires_at=now + timedelta(seconds=config.otp_ttl_s),
    )
    if entry is not None:
        _send_code(normalised_phone, code, election, config.otp_ttl_s)
    return IssuedChallenge(challenge, config.otp_ttl_s)


def _send_code(phone: str, code: str, election: Election, ttl_s: int) -> None:
    text = _("[e-voting] %(title)s: your code is %(code)s. It expires in %(minutes)d minutes. Never share it.") % {
        "title": election.title[:40], "code": code, "minutes": max(1, ttl_s // 60),
    }
    try:
        sms.send_sms(phone, text)
    except Exception as exc:  # the answer must not differ for a number on the roll; log without number or code
        logger.error("SMS delivery failed (%s)", type(exc).__name__)


def verify_code(*, challenge: str, code: str, now: datetime) -> IssuedSession:
    """Check the code; on success open a device session (bearer token returned once, stored hashed)."""
    challenge_sha256 = compute_sha256(challenge)
    row = OtpChallenge.objects.filter(challenge_sha256=challenge_sha256).first()
    if row is None:
        raise OtpChallengeUnknown()
    config = get_mobile_settings()
    _validate_usable(row, now, config.otp_max_attempts)
    matches = hmac.compare_digest(compute_code_hmac(challenge_sha256, code), row.code_hmac)
    usable = OtpChallenge.objects.filter(pk=row.pk, used_at__isnull=True, attempts__lt=config.otp_max_attempts)
    if matches and row.roll_entry_id is not None:
        token = secrets.token_urlsafe(32)
        with transaction.atomic():
            if usable.update(used_at=now, attempts=F("attempts") + 1):
                DeviceSession.objects.create(
                    election_id=row.election_id, roll_entry_id=row.roll_entry_id, token_sha256=compute_sha256(token),
                    created_at=now, expires_at=now + timedelta(seconds=config.session_ttl_s),
                )
                return IssuedSession(token, config.session_ttl_s)
    elif usable.update(attempts=F("attempts") + 1):
        row.refresh_from_db()
        left = config.otp_max_attempts - row.attempts
        if left <= 0:
            raise OtpLocked(detail={"attempts_left": 0})
        raise OtpInvalid(detail={"attempts_left": left})
    row.refresh_from_db()  # a concurrent request used or locked it first: report that
    _validate_usable(row, now, config.otp_max_attempts)
    raise OtpLocked(detail={"attempts_left": 0})


def _validate_usable(row: OtpChallenge, now: datetime, max_attempts: int) -> None:
    if row.used_at is not None:
        raise OtpUsed()
    if row.attempts >= max_attempts:
        raise OtpLocked(detail={"attempts_left": 0})
    if now >= row.expires_at:
        raise OtpExpired()
