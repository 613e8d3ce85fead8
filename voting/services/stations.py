"""Polling stations, their kiosks, and per-election roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import lifecycle
from ..access import require_election_creator
from ..errors import InvalidRole, InvalidStation
from ..models import Election, ElectionRole, Kiosk, PollingStation, Region
from ..models.regions import STATION_CODE_VALIDATOR
from .audit import record_action

KIOSK_CREDENTIAL_PREFIX = "kiosk_"


def create_station(
    actor: AbstractBaseUser, *, code: str, name: str, region: Region, address: str = "", now: datetime
) -> PollingStation:
    """Register a polling station; its code becomes its id on the ledger and cannot change later."""
    require_election_creator(actor)
    errors: dict[str, list[str]] = {}
    code = code.strip().lower()
    try:
        STATION_CODE_VALIDATOR(code)
    except ValidationError as exc:
        errors["code"] = list(exc.messages)
    if not name.strip():
        errors["name"] = [_("Enter a name.")]
    if not errors and PollingStation.objects.filter(code=code).exists():
        errors["code"] = [_("A station with this code exists.")]
    if errors:
        raise InvalidStation(detail={"errors": errors})
    try:
        with transaction.atomic():
            station = PollingStation.objects.create(code=code, name=name.strip(), region=region, address=address.strip())
            record_action(actor, "station_created", now, code=code, region=region.code)
    except IntegrityError as exc:
        raise InvalidStation(detail={"errors": {"code": [_("A station with this code exists.")]}}) from exc
    return station


@dataclass(frozen=True)
class KioskRegistration:
    kiosk: Kiosk
    credential: str  # shown once to the official who installs the kiosk; only its hash is stored


def hash_kiosk_credential(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def register_kiosk(
    actor: AbstractBaseUser, election: Election, station: PollingStation, *, label: str, now: datetime
) -> KioskRegistration:
    """Register a booth device at ``station`` and return its credential (never stored in clear)."""
    lifecycle.validate_activity(election.status, "register_kiosk")
    label = label.strip()
    if not label or len(label) > 100:
        raise InvalidStation(detail={"errors": {"label": [_("Enter a label of at most 100 characters.")]}})
    if Kiosk.objects.filter(station=station, label=label).exists():
        raise InvalidStation(detail={"errors": {"label": [_("This station already has a kiosk with this label.")]}})
    credential = KIOSK_CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        kiosk = Kiosk.objects.create(
            station=station, label=label, credential_sha256=hash_kiosk_credential(credential),
            registered_by=actor, registered_at=now,
        )
        record_action(actor, "kiosk_registered", now, election=election, station=station.code, kiosk=kiosk.pk)
    return KioskRegistration(kiosk, credential)


def authenticate_kiosk(credential: str) -> Kiosk | None:
    """The active kiosk holding ``credential``, or None (for the kiosk app's device authentication)."""
    digest = hash_kiosk_credential(credential)
    kiosk = Kiosk.objects.select_related("station").filter(credential_sha256=digest, revoked_at__isnull=True).first()
    if kiosk is None or not hmac.compare_digest(kiosk.credential_sha256, digest):
        return None
    return kiosk


def revoke_kiosk(actor: AbstractBaseUser, election: Election, kiosk: Kiosk, now: datetime) -> Kiosk:
    if kiosk.revoked_at is None:
        with transaction.atomic():
            Kiosk.objects.filter(pk=kiosk.pk, revoked_at__isnull=True).update(revoked_at=now)
            record_action(actor, "kiosk_revoked", now, election=election, kiosk=kiosk.pk)
        kiosk.refresh_from_db()
    return kiosk


def grant_role(
    actor: AbstractBaseUser, election: Election, *, username: str, role: str,
    station: PollingStation | None = None, now: datetime,
) -> ElectionRole:
    """Give an existing user a role in ``election`` (idempotent for the same user and role)."""
    if role not in ElectionRole.Role.values:
        raise InvalidRole(detail={"errors": {"role": [_("Choose a role.")]}})
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise InvalidRole(detail={"errors": {"username": [_("No user has this user name.")]}})
    with transaction.atomic():
        grant, created = ElectionRole.objects.get_or_create(
            election=election, user=user, role=role,
            defaults={"station": station if role == ElectionRole.Role.POLL_WORKER else None,
                      "granted_by": actor, "granted_at": now},
        )
        if created:
            record_action(actor, "role_granted", now, election=election, user=user.pk, role=role,
                          station=station.code if station else None)
    return grant
