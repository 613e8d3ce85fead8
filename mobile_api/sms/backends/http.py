"""Production backend: POSTs each message as JSON to an SMS gateway configured in settings.

Request: ``POST MOBILE["SMS_HTTP_URL"]`` with ``Authorization: Bearer <SMS_HTTP_TOKEN>`` and
body ``{"to": "01012345678", "text": "...", "sender": "<SMS_HTTP_SENDER>"}``; any 2xx is
success. Delivery runs in a small background pool by default, so the API answers a code
request for a number on the roll exactly as fast as for a number that is not (a synchronous
gateway call would let response time reveal roll membership). Failures are logged without
the number or the text.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...config import get_mobile_settings
from .. import SmsMessage
from .base import BaseSmsBackend

logger = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sms-http")


class SmsGatewayError(Exception):
    """The gateway refused or could not be reached (raised only when fail_silently is off)."""


class SmsBackend(BaseSmsBackend):
    def __init__(self, *args: Any, background: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = get_mobile_settings()
        self.url, self.token, self.sender = config.sms_http_url, config.sms_http_token, config.sms_http_sender
        self.timeout_s = config.sms_http_timeout_s
        self.background = background

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        if not self.url:
            if self.fail_silently:
                return 0
            raise SmsGatewayError("MOBILE['SMS_HTTP_URL'] is not configured")
        for message in messages:
            if self.background:
                _pool.submit(self._deliver_logged, message)
            else:
                self._deliver(message)
        return len(messages)

    def _deliver_logged(self, message: SmsMessage) -> None:
        try:
            self._deliver(message)
        except SmsGatewayError as exc:
            logger.error("SMS gateway delivery failed: %s", exc)

    def _deliver(self, message: SmsMessage) -> None:
        body = json.dumps({"to": message.to, "text": message.text, "sender": self.sender}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SmsGatewayError(f"gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SmsGatewayError(f"gateway unreachable ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise SmsGatewayError(f"gateway answered HTTP {status}")
