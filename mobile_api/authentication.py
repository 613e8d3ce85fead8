"""Device session authentication: ``Authorization: Bearer <token>`` from the code check.

Why this is CSRF-safe without a CSRF token: the session travels only in a header that the
page's own script sets on each request. A browser never attaches it by itself (unlike a
cookie), so a forged cross-site form or image request arrives without it and is refused;
and a cross-origin script cannot set the header without a CORS preflight, which this API
never approves. The token is 256 random bits, stored as SHA-256, valid for minutes, and
accepted only by the credential endpoint.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from . import clock
from .errors import SessionInvalid
from .models import DeviceSession
from .services.credentials import authenticate_device

MAX_TOKEN_LENGTH = 128


class DeviceSessionAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, DeviceSession] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2 or len(parts[1]) > MAX_TOKEN_LENGTH:
            raise SessionInvalid()
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise SessionInvalid() from exc
        return AnonymousUser(), authenticate_device(token, clock.get_now())

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="mobile-voting"'


class HasDeviceSession(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, DeviceSession):
            raise SessionInvalid()
        return True
