"""The interface every SMS backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import SmsMessage


class BaseSmsBackend:
    """Deliver messages; return how many were accepted. Never log the text (it holds a code)."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        self.fail_silently = fail_silently

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        raise NotImplementedError
