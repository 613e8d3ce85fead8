"""System checks of the mobile app's configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from .config import MIN_OTP_DIGITS, get_mobile_settings


@register(Tags.security)
def check_mobile_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = get_mobile_settings()
    raw_digits = int(getattr(settings, "MOBILE", {}).get("OTP_DIGITS", 8))
    problems: list[CheckMessage] = []
    if config.otp_hmac_key_is_derived and getattr(settings, "IS_PRODUCTION", False):
        problems.append(Warning(
            "MOBILE['OTP_HMAC_KEY'] is not set; one-time codes are keyed by a key derived from SECRET_KEY.",
            hint="Set MOBILE_OTP_HMAC_KEY to a long random secret.", id="mobile_api.W001",
        ))
    if raw_digits < MIN_OTP_DIGITS:
        problems.append(Warning(
            f"MOBILE['OTP_DIGITS']={raw_digits} is below {MIN_OTP_DIGITS} (20 bits); {MIN_OTP_DIGITS} are used.",
            id="mobile_api.W002",
        ))
    if config.sms_backend.endswith(".http.SmsBackend") and not config.sms_http_url:
        problems.append(Warning(
            "The HTTP SMS backend is selected but MOBILE['SMS_HTTP_URL'] is empty.",
            hint="Set MOBILE_SMS_HTTP_URL (and MOBILE_SMS_HTTP_TOKEN), or choose another MOBILE_SMS_BACKEND.",
            id="mobile_api.W003",
        ))
    return problems
