"""Test backend: appends each message to ``mobile_api.sms.outbox``."""

from __future__ import annotations

from collections.abc import Sequence

from .. import SmsMessage, outbox
from .base import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)
