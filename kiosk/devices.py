"""Booth devices: pairing a browser with a registered kiosk and authenticating every kiosk request.

The kiosk credential (shown once to the official at registration, only its SHA-256 kept)
lives in an HttpOnly, SameSite=Strict cookie: page scripts cannot read it, other sites
cannot make the browser send it, and every API call is checked against the kiosk table
(``voting.services.stations.authenticate_kiosk``), so a revoked kiosk stops at once.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from voting.models import Kiosk
from voting.services.stations import authenticate_kiosk, hash_kiosk_credential

from .errors import KioskNotPaired, KioskRevoked, KioskUnknown

COOKIE_NAME = "evote_kiosk"
# A booth device stays paired for an election period; officials revoke, not the clock.
COOKIE_MAX_AGE_S = 60 * 60 * 24 * 60
MAX_CREDENTIAL_LENGTH = 200


def get_request_credential(request: HttpRequest) -> str:
    return str(request.COOKIES.get(COOKIE_NAME, "")).strip()[:MAX_CREDENTIAL_LENGTH]


def authenticate_device(credential: str) -> Kiosk:
    """The active kiosk for ``credential``; raise a typed error telling unpaired, unknown and revoked apart."""
    if not credential:
        raise KioskNotPaired()
    kiosk = authenticate_kiosk(credential)
    if kiosk is not None:
        return kiosk
    if Kiosk.objects.filter(credential_sha256=hash_kiosk_credential(credential), revoked_at__isnull=False).exists():
        raise KioskRevoked()
    raise KioskUnknown()


def get_request_kiosk(request: HttpRequest) -> Kiosk:
    return authenticate_device(get_request_credential(request))


def store_credential(response: HttpResponse, credential: str) -> None:
    """Remember the pairing in this browser: HttpOnly, SameSite=Strict, Secure outside DEBUG."""
    response.set_cookie(
        COOKIE_NAME, credential, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Strict",
        secure=not settings.DEBUG, path="/",
    )


def forget_credential(response: HttpResponse) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", samesite="Strict")
