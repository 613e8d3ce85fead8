"""Members: joining by invitation link, by roll import or by SMS verification; the member session.

Members are people, not staff accounts. A member proves who they are either by holding the
session cookie set when they joined through an invitation link, or by an SMS one-time code to
the phone number a manager imported on a roll (or that they verified while joining). Phone
numbers are kept only as the roll's keyed hash (voting.pii), never in clear, and never logged.

The one-time codes follow mobile_api's rules and settings (settings.MOBILE: digits, TTL,
attempt limit, HMAC key, SMS backend) but cannot reuse its service, which is bound to an
election's roll: a code is stored only as an HMAC, expires, verifies once, and locks after the
attempt limit (a conditional update, so concurrent guesses cannot exceed it). A number that
matches no member gets the same answer and a challenge that can never verify, and no SMS,
unless the request carries a valid invitation (then the invitation is the permission to text).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext as _

from mobile_api import sms
from mobile_api.config import get_mobile_settings
from voting import pii

from ..errors import (
    InvalidCommunityInput,
    InvitationExpired,
    InvitationNotFound,
    InvitationUsedUp,
    NotAMember,
    PhoneInvalid,
    SignInCodeExpired,
    SignInCodeInvalid,
    SignInCodeLocked,
    SignInCodeRateLimited,
    SignInCodeUnknown,
    SignInCodeUsed,
)
from ..models import Community, Invitation, Member, MemberOtpChallenge, Membership
from .tree import User, validate_manager

logger = logging.getLogger(__name__)
SESSION_KEY = "community_member_id"
MAX_DISPLAY_NAME = 100
MAX_INVITATION_USES = 100_000
MAX_INVITATION_DAYS = 365
CODES_PER_PHONE_PER_HOUR = 5
_NEVER_A_CODE = "x"  # codes are digits only, so an HMAC over this marker never verifies

# roll import lives in its own module (size); re-exported so callers use one services module
from .roll import RollImportResult, import_roll  # noqa: E402,F401


@dataclass(frozen=True)
class IssuedChallenge:
    challenge: str
    expires_in: int


# --- session ------------------------------------------------------------------------------------


def current_member(request: HttpRequest) -> Member | None:
    """The member signed in on this browser (session key `community_member_id`), or None."""
    cached = getattr(request, "_community_member", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    member_id = request.session.get(SESSION_KEY)
    member = Member.objects.filter(pk=member_id).first() if isinstance(member_id, int) else None
    request._community_member = member  # type: ignore[attr-defined]
    return member


def sign_in_member(request: HttpRequest, member: Member) -> None:
    """Bind the browser session to the member; a new session key so a planted session id is useless."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = member.pk
    request._community_member = member  # type: ignore[attr-defined]


def sign_out_member(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request._community_member = None  # type: ignore[attr-defined]


# --- membership reads ---------------------------------------------------------------------------


def is_member_in_subtree(member: Member | None, community: Community) -> bool:
    """True when the member belongs to this node or to any node below it."""
    if member is None:
        return False
    return Membership.objects.filter(member=member, community__path__startswith=community.path).exists()


def validate_member_in_subtree(member: Member | None, community: Community) -> None:
    if not is_member_in_subtree(member, community):
        raise NotAMember(detail={"community": community.pk})


def validate_display_name(display_name: str) -> str:
    name = display_name.strip()
    if not (0 < len(name) <= MAX_DISPLAY_NAME):
        raise InvalidCommunityInput(detail={"errors": {"display_name": [
            _("Enter a name of at most %(n)d characters.") % {"n": MAX_DISPLAY_NAME}]}})
    return name


def normalise_phone_or_raise(raw_phone: str) -> str:
    phone = pii.normalise_phone(raw_phone)
    if phone is None:
        raise PhoneInvalid(detail={"field": "phone"})
    return phone


# --- invitations --------------------------------------------------------------------------------


def compute_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_invitation(by_user: User, community: Community, *, max_uses: int, valid_days: int,
                      now: datetime) -> tuple[Invitation, str]:
    """A join link for the node; returns the token once (only its SHA-256 is stored)."""
    validate_manager(by_user, community)
    errors: dict[str, list[str]] = {}
    if not (1 <= max_uses <= MAX_INVITATION_USES):
        errors["max_uses"] = [_("Enter a number from 1 to %(n)d.") % {"n": MAX_INVITATION_USES}]
    if not (1 <= valid_days <= MAX_INVITATION_DAYS):
        errors["valid_days"] = [_("Enter a number from 1 to %(n)d.") % {"n": MAX_INVITATION_DAYS}]
    if errors:
        raise InvalidCommunityInput(detail={"errors": errors})
    token = secrets.token_urlsafe(24)
    invitation = Invitation.objects.create(
        community=community, token_sha256=compute_sha256(token), created_by=by_user if by_user.pk else None,
        created_at=now, expires_at=now + timedelta(days=valid_days), max_uses=max_uses,
    )
    return invitation, token


def revoke_invitation(by_user: User, invitation: Invitation, now: datetime) -> None:
    validate_manager(by_user, invitation.community)
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=now)


def find_invitation(token: str) -> Invitation:
    invitation = (Invitation.objects.select_related("community")
                  .filter(token_sha256=compute_sha256(token)).first() if token else None)
    if invitation is None:
        raise InvitationNotFound()
    return invitation


def validate_invitation_usable(invitation: Invitation, now: datetime) -> None:
    if invitation.revoked_at is not None or now >= invitation.expires_at:
        raise InvitationExpired(detail={"community": invitation.community_id})
    if invitation.uses >= invitation.max_uses:
        raise InvitationUsedUp(detail={"community": invitation.community_id})


def resolve_invitation(token: str, now: datetime) -> Invitation:
    """The usable invitation for a link token, or a typed error saying why it cannot be used."""
    invitation = find_invitation(token)
    validate_invitation_usable(invitation, now)
    return invitation


def accept_invitation(token: str, *, member: Member | None, display_name: str = "",
                      now: datetime) -> Membership:
    """Join the invitation's node as `member`, or as a new member called `display_name`."""
    name = validate_display_name(display_name) if member is None else ""
    return _join_by_invitation(token, now, Membership.JoinedVia.INVITE, member,
                               lambda: Member.objects.create(display_name=name))


def _join_by_invitation(token: str, now: datetime, via: str, member: Member | None,
                        make_member: Callable[[], Member]) -> Membership:
    """Consume one use of the invitation (conditional update: never more than max_uses) and join."""
    with transaction.atomic():
        invitation = find_invitation(token)
        if member is not None:
            existing = Membership.objects.filter(member=member, community=invitation.community).first()
            if existing is not None:
                return existing  # joining twice is harmless and does not use the link up
        validate_invitation_usable(invitation, now)
        consumed = Invitation.objects.filter(
            pk=invitation.pk, uses__lt=F("max_uses"), revoked_at__isnull=True, expires_at__gt=now,
        ).update(uses=F("uses") + 1)
        if not consumed:
            resolve_invitation(token, now)  # raises the reason a concurrent join made it unusable
            raise InvitationUsedUp(detail={"community": invitation.community_id})
        return Membership.objects.create(member=member or make_member(), community=invitation.community,
                                         joined_via=via)


# --- SMS one-time codes ---------------------------------------------------------------------------


def compute_code_hmac(challenge_sha256: str, code: str) -> str:
    key = get_mobile_settings().otp_hmac_key
    return hmac.new(key, f"community-otp:{challenge_sha256}:{code}".encode(), hashlib.sha256).hexdigest()


def request_sign_in_code(raw_phone: str, *, now: datetime, invitation_token: str = "") -> IssuedChallenge:
    """Text a code to a member's phone (or to any phone when joining with a valid invitation)."""
    phone = normalise_phone_or_raise(raw_phone)
    phone_hmac = pii.compute_phone_hmac(phone)
    if invitation_token:
        resolve_invitation(invitation_token, now)
    recent = MemberOtpChallenge.objects.filter(phone_hmac=phone_hmac, created_at__gt=now - timedelta(hours=1))
    if recent.count() >= CODES_PER_PHONE_PER_HOUR:
        raise SignInCodeRateLimited()
    config = get_mobile_settings()
    known = bool(invitation_token) or Member.objects.filter(phone_hmac=phone_hmac).exists()
    code = f"{secrets.randbelow(10 ** config.otp_digits):0{config.otp_digits}d}" if known else _NEVER_A_CODE
    challenge = secrets.token_urlsafe(32)
    challenge_sha256 = compute_sha256(challenge)
    MemberOtpChallenge.objects.create(
        challenge_sha256=challenge_sha256, phone_hmac=phone_hmac, code_hmac=compute_code_hmac(challenge_sha256, code),
        created_at=now, expires_at=now + timedelta(seconds=config.otp_ttl_s),
    )
    if known:
        text = _("[community] Your code is %(code)s. It expires in %(minutes)d minutes. Never share it.") % {
            "code": code, "minutes": max(1, config.otp_ttl_s // 60)}
        try:
            sms.send_sms(phone, text)
        except Exception as exc:  # same answer whether or not the number is known; log neither number nor code
            logger.error("community SMS delivery failed (%s)", type(exc).__name__)
    return IssuedChallenge(challenge, config.otp_ttl_s)


def verify_sign_in_code(challenge: str, code: str, *, now: datetime, invitation_token: str = "",
                        display_name: str = "") -> Member:
    """Check the code; returns the member of that phone (joining the invitation's node if one is given)."""
    challenge_sha256 = compute_sha256(challenge)
    row = MemberOtpChallenge.objects.filter(challenge_sha256=challenge_sha256).first()
    if row is None:
        raise SignInCodeUnknown()
    max_attempts = get_mobile_settings().otp_max_attempts
    _validate_usable(row, now, max_attempts)
    name = ""
    if invitation_token:  # refuse before the code is spent: a bad link or a missing name is fixable
        resolve_invitation(invitation_token, now)
        if not Member.objects.filter(phone_hmac=row.phone_hmac).exists():
            name = validate_display_name(display_name)
    code = code.strip()
    # Codes are digits only; anything else (including the never-a-code marker) is a wrong guess.
    matches = code.isdigit() and hmac.compare_digest(compute_code_hmac(challenge_sha256, code), row.code_hmac)
    usable = MemberOtpChallenge.objects.filter(pk=row.pk, used_at__isnull=True, attempts__lt=max_attempts)
    if matches:
        if usable.update(used_at=now, attempts=F("attempts") + 1):
            return _member_for_verified_phone(row.phone_hmac, now, invitation_token, name)
    elif usable.update(attempts=F("attempts") + 1):
        row.refresh_from_db()
        left = max_attempts - row.attempts
        if left <= 0:
            raise SignInCodeLocked(detail={"attempts_left": 0})
        raise SignInCodeInvalid(detail={"attempts_left": left})
    row.refresh_from_db()  # a concurrent request used or locked it first
    _validate_usable(row, now, max_attempts)
    raise SignInCodeLocked(detail={"attempts_left": 0})


def _member_for_verified_phone(phone_hmac: str, now: datetime, invitation_token: str, name: str) -> Member:
    member = Member.objects.filter(phone_hmac=phone_hmac).first()
    if invitation_token:
        def make_member() -> Member:
            try:
                with transaction.atomic():
                    return Member.objects.create(display_name=name, phone_hmac=phone_hmac)
            except IntegrityError:  # the same phone joined concurrently
                return Member.objects.get(phone_hmac=phone_hmac)
        return _join_by_invitation(invitation_token, now, Membership.JoinedVia.SMS, member, make_member).member
    if member is None:
        raise NotAMember(detail={})
    return member


def _validate_usable(row: MemberOtpChallenge, now: datetime, max_attempts: int) -> None:
    if row.used_at is not None:
        raise SignInCodeUsed()
    if row.attempts >= max_attempts:
        raise SignInCodeLocked(detail={"attempts_left": 0})
    if now >= row.expires_at:
        raise SignInCodeExpired()
