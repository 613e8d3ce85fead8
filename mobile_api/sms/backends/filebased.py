"""Development and browser-test backend: one file per message in ``MOBILE["SMS_FILE_PATH"]``.

File format (UTF-8): ``To: <number>`` on the first line, a blank line, then the text. Files
are created with mode 0600 and a name that sorts by time, so a reader (the Python client's
``--otp-file``, the browser test) can take the newest message for its number.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...config import get_mobile_settings
from .. import SmsMessage
from .base import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    def __init__(self, *args: Any, file_path: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directory = Path(file_path or get_mobile_settings().sms_file_path)

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for message in messages:
            name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.sms"
            descriptor = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(f"To: {message.to}\n\n{message.text}\n")
        return len(messages)
