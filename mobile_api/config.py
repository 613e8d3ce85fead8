"""The mobile app's settings (``settings.MOBILE``), read once into a frozen object.

The one-time-code HMAC key falls back to a key derived from SECRET_KEY, so development
needs no configuration; production is warned by the system check ``mobile_api.W001``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

MIN_OTP_DIGITS = 7  # 10^7 > 2^20: the issue asks for at least 20 bits per code
DEFAULT_RATES = {
    "otp_phone": "5/hour",
    "otp_client": "20/hour",
    "verify_client": "60/hour",
    "credential_client": "30/hour",
    "submit_client": "120/hour",
    "read_client": "600/hour",
}


@dataclass(frozen=True)
class MobileSettings:
    sms_backend: str
    sms_file_path: Path
    sms_http_url: str
    sms_http_token: str
    sms_http_sender: str
    sms_http_timeout_s: float
    otp_hmac_key: bytes
    otp_hmac_key_is_derived: bool
    otp_digits: int
    otp_ttl_s: int
    otp_max_attempts: int
    session_ttl_s: int
    page_mint_delay_max_s: float
    credential_key_dir: Path
    credential_key_bits: int
    throttle_rates: dict[str, str] = field(default_factory=dict)


def derive_otp_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"mobile-otp-hmac-key-v1", hashlib.sha256).digest()


@cache
def get_mobile_settings() -> MobileSettings:
    raw: dict[str, Any] = getattr(settings, "MOBILE", {})
    configured_key = str(raw.get("OTP_HMAC_KEY", "") or "")
    return MobileSettings(
        sms_backend=str(raw.get("SMS_BACKEND", "mobile_api.sms.backends.console.SmsBackend")),
        sms_file_path=Path(raw.get("SMS_FILE_PATH", Path(settings.BASE_DIR) / "var" / "sms")),
        sms_http_url=str(raw.get("SMS_HTTP_URL", "")),
        sms_http_token=str(raw.get("SMS_HTTP_TOKEN", "")),
        sms_http_sender=str(raw.get("SMS_HTTP_SENDER", "")),
        sms_http_timeout_s=float(raw.get("SMS_HTTP_TIMEOUT_S", 10)),
        otp_hmac_key=configured_key.encode() if configured_key else derive_otp_key(settings.SECRET_KEY),
        otp_hmac_key_is_derived=not configured_key,
        otp_digits=max(MIN_OTP_DIGITS, int(raw.get("OTP_DIGITS", 8))),
        otp_ttl_s=int(raw.get("OTP_TTL_S", 300)),
        otp_max_attempts=max(1, int(raw.get("OTP_MAX_ATTEMPTS", 5))),
        session_ttl_s=int(raw.get("SESSION_TTL_S", 600)),
        page_mint_delay_max_s=max(0.0, float(raw.get("PAGE_MINT_DELAY_MAX_S", 4))),
        credential_key_dir=Path(raw.get("CREDENTIAL_KEY_DIR", Path(settings.BASE_DIR) / "var" / "mobile" / "keys")),
        credential_key_bits=int(raw.get("CREDENTIAL_KEY_BITS", 3072)),
        throttle_rates={**DEFAULT_RATES, **dict(raw.get("THROTTLE_RATES", {}))},
    )


def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in {"MOBILE", "SECRET_KEY"}:
        get_mobile_settings.cache_clear()


setting_changed.connect(_forget_settings)
