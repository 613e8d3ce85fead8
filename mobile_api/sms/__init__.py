"""Sending text messages through a pluggable backend, the way django.core.mail sends e-mail.

``settings.MOBILE["SMS_BACKEND"]`` names the backend class: console (prints), file (one file
per message, for development and the browser test), locmem (collects into ``outbox``, for
tests) and http (a production SMS gateway). The text itself is the only place a one-time
code appears outside the voter's phone: backends deliver it and log nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

from ..config import get_mobile_settings

# Filled by the locmem backend (tests read the codes from here).
outbox: list["SmsMessage"] = []


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str


def get_connection(backend: str | None = None, **kwargs: Any) -> Any:
    """An instance of the configured (or given) backend class."""
    return import_string(backend or get_mobile_settings().sms_backend)(**kwargs)


def send_sms(to: str, text: str) -> int:
    """Send one message; returns the number the backend accepted (0 or 1)."""
    return int(get_connection().send_messages([SmsMessage(to, text)]))
