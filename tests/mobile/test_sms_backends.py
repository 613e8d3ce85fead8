"""SMS backends: console, file, locmem and the HTTP gateway (a real HTTP server on loopback)."""

from __future__ import annotations

import io
import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from clients.evote_mobile import OtpFileReader
from mobile_api import sms
from mobile_api.sms.backends import console, filebased, http, locmem


def test_console_backend_writes_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    assert console.SmsBackend(stream=stream).send_messages([sms.SmsMessage("01012345678", "code 1234567")]) == 1
    assert "01012345678" in stream.getvalue() and "code 1234567" in stream.getvalue()


def test_locmem_backend_collects_into_the_outbox() -> None:
    sms.outbox.clear()
    locmem.SmsBackend().send_messages([sms.SmsMessage("01012345678", "hello")])
    assert sms.outbox == [sms.SmsMessage("01012345678", "hello")]


def test_file_backend_writes_private_files_the_client_can_read(tmp_path: Path) -> None:
    reader = OtpFileReader(tmp_path, "010-1234-5678", timeout_s=2)
    backend = filebased.SmsBackend(file_path=tmp_path)
    backend.send_messages([sms.SmsMessage("01099998888", "[e-voting] code 11111111")])
    backend.send_messages([sms.SmsMessage("01012345678", "[e-voting] Election 2026: your code is 12345678.")])
    files = sorted(tmp_path.glob("*.sms"))
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert reader() == "12345678"  # the newest message to this phone; the other number's code is ignored


class GatewayHandler(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    status = 202

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        GatewayHandler.received.append((dict(self.headers), body))
        self.send_response(GatewayHandler.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), GatewayHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    GatewayHandler.received.clear()
    GatewayHandler.status = 202
    yield f"http://127.0.0.1:{server.server_port}/send"
    server.shutdown()


def test_http_backend_posts_json_with_the_bearer_token(settings: Any, gateway_url: str) -> None:
    settings.MOBILE = {**settings.MOBILE, "SMS_HTTP_URL": gateway_url, "SMS_HTTP_TOKEN": "secret-token",
                       "SMS_HTTP_SENDER": "0311234567"}
    assert http.SmsBackend(background=False).send_messages([sms.SmsMessage("01012345678", "code 7654321")]) == 1
    ((headers, body),) = GatewayHandler.received
    assert headers["Authorization"] == "Bearer secret-token"
    assert body == {"to": "01012345678", "text": "code 7654321", "sender": "0311234567"}


def test_http_backend_reports_gateway_failures_without_the_text(settings: Any, gateway_url: str) -> None:
    settings.MOBILE = {**settings.MOBILE, "SMS_HTTP_URL": gateway_url}
    GatewayHandler.status = 500
    with pytest.raises(http.SmsGatewayError) as failed:
        http.SmsBackend(background=False).send_messages([sms.SmsMessage("01012345678", "code 7654321")])
    assert "7654321" not in str(failed.value) and "01012345678" not in str(failed.value)


def test_http_backend_without_a_url_refuses(settings: Any) -> None:
    settings.MOBILE = {**settings.MOBILE, "SMS_HTTP_URL": ""}
    with pytest.raises(http.SmsGatewayError):
        http.SmsBackend().send_messages([sms.SmsMessage("01012345678", "x")])


def test_the_configured_backend_is_used(settings: Any) -> None:
    sms.outbox.clear()
    assert sms.send_sms("01012345678", "hi") == 1 and sms.outbox[-1].text == "hi"
