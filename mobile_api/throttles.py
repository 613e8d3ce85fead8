"""Rate limits of the mobile API: per phone number (its roll HMAC) and per client address.

Rates come from ``settings.MOBILE["THROTTLE_RATES"]`` through the frozen settings object, so a
test's settings override takes effect (DRF's class-level THROTTLE_RATES is bound at import).
The per-phone count keys on the phone's HMAC, never the number, and counts every request
alike, whether or not the number is on the roll, so a 429 reveals nothing about the roll.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from voting import pii

from .config import get_mobile_settings


class MobileRateThrottle(SimpleRateThrottle):
    """Per client address (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES trusted proxies)."""

    scope = "read_client"

    def get_rate(self) -> str | None:
        return get_mobile_settings().throttle_rates.get(self.scope)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": f"mobile_{self.scope}", "ident": self.get_ident(request)}


class OtpClientThrottle(MobileRateThrottle):
    scope = "otp_client"


class VerifyClientThrottle(MobileRateThrottle):
    scope = "verify_client"


class CredentialClientThrottle(MobileRateThrottle):
    scope = "credential_client"


class SubmitClientThrottle(MobileRateThrottle):
    scope = "submit_client"


class ReadClientThrottle(MobileRateThrottle):
    scope = "read_client"


class OtpPhoneThrottle(MobileRateThrottle):
    """Codes per phone number, whichever address asks (SMS pumping, repeated guessing)."""

    scope = "otp_phone"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        raw = data.get("phone") if hasattr(data, "get") else None
        phone = pii.normalise_phone(raw) if isinstance(raw, str) else None
        if phone is None:
            return None  # the serializer refuses it; nothing to count
        return self.cache_format % {"scope": "mobile_otp_phone", "ident": pii.compute_phone_hmac(phone)}
