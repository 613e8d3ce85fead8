"""Development backend: writes each message to standard output (the code is what it delivers)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from .. import SmsMessage
from .base import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    def __init__(self, *args: Any, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        with self._lock:
            for message in messages:
                self.stream.write(f"SMS to {message.to}\n{message.text}\n{'-' * 40}\n")
            self.stream.flush()
        return len(messages)
