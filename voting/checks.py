"""System checks for the voting app's configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

MIN_ROLL_KEY_LENGTH = 32


@register(Tags.security)
def check_roll_hmac_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """voting.E001: production must set its own roll HMAC key, long enough to resist guessing."""
    if getattr(settings, "DJANGO_ENV", "development") != "production":
        return []
    key = str(getattr(settings, "VOTING", {}).get("ROLL_HMAC_KEY", ""))
    if len(key) >= MIN_ROLL_KEY_LENGTH:
        return []
    return [
        Error(
            f"VOTING_ROLL_HMAC_KEY must be set to a random string of at least {MIN_ROLL_KEY_LENGTH} characters.",
            hint="Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
            id="voting.E001",
        )
    ]
