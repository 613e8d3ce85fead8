"""The read-only dashboard: one HTML page (meta refresh, no scripts) and ``/status.json``.

It serves the snapshot taken after the latest round, so a page view never waits for a round
and never triggers network traffic to the nodes. Text is in English and Korean (stdlib
gettext, catalogue in ``publicnode/locale``); ``?lang=ko`` or ``Accept-Language: ko`` picks
Korean.
"""

from __future__ import annotations

import gettext
import html
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
REFRESH_SECONDS = 10


def translator(language: str) -> Callable[[str], str]:
    catalogue = gettext.translation("django", localedir=LOCALE_DIR, languages=[language], fallback=True)
    return catalogue.gettext


def pick_language(query: str, accept: str) -> str:
    wanted = parse_qs(query).get("lang", [""])[0]
    if wanted in ("ko", "en"):
        return wanted
    return "ko" if accept.strip().lower().startswith("ko") else "en"


class Snapshot:
    """The latest status, replaced as a whole after each round (readers never see half a round)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: dict[str, Any] = {"ok": None, "round": 0, "nodes": [], "alarms": [], "checkpoints": []}

    def set(self, value: dict[str, Any]) -> None:
        with self._lock:
            self._value = value

    def get(self) -> dict[str, Any]:
        with self._lock:
            return self._value


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def render_page(status: dict[str, Any], language: str) -> str:
    _ = translator(language)
    ok = status.get("ok")
    verdict = _("No alarm: every reachable node serves the verified chain.") if ok else (
        _("ALARM: invalid data or divergence, see below.") if ok is False else _("Waiting for the first round."))
    node_rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>".format(
            _cell(n.get("node_id")), _cell(n.get("url")), _("yes") if n.get("reachable") else _("no"),
            _cell(n.get("height")), _cell((n.get("head_hash") or "")[:16]),
            {True: _("yes"), False: _("NO"), None: "–"}[n.get("agreeing")], _cell(n.get("error")))
        for n in status.get("nodes", []))
    alarm_rows = "".join(
        "<tr class='{}'><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            _cell(a.get("severity")), _cell(a.get("time")), _cell(a.get("code")), _cell(a.get("node")),
            _cell(a.get("height")), _cell(a.get("location") or a.get("field")), _cell(a.get("tx_index")),
            _cell(a.get("message")))
        for a in status.get("alarm_history", []))
    checkpoint_rows = "".join(
        "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>".format(
            _cell(c.get("height")), _cell(c.get("block_hash")), _cell(c.get("state_root")), _cell(c.get("verified_at")),
            _cell(", ".join(c.get("nodes_agreeing", []))))
        for c in status.get("checkpoints", []))
    title = _("Public node")
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>{title} – {_cell(status.get("chain"))}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #aaa;padding:.2em .5em;text-align:left}}.error{{background:#fdd}}.warning{{background:#ffd}}
.ok{{color:#060}}.bad{{color:#a00;font-weight:bold}}</style></head><body>
<h1>{title}: {_cell(status.get("chain"))}</h1>
<p class="{'ok' if ok else 'bad'}">{verdict}</p>
<p>{_("Verified height")}: <strong>{_cell(status.get("height"))}</strong> · {_("Head")}: <code>{_cell(status.get("head_hash"))}</code><br>
{_("Genesis (trust root)")}: <code>{_cell(status.get("genesis_hash"))}</code> · {_("Round")} {_cell(status.get("round"))},
{_cell(status.get("last_round_at"))} · <a href="/status.json">status.json</a> · <a href="?lang=en">English</a> · <a href="?lang=ko">한국어</a></p>
<h2>{_("Nodes")}</h2>
<table><tr><th>{_("Node")}</th><th>URL</th><th>{_("Reachable")}</th><th>{_("Height")}</th><th>{_("Head")}</th><th>{_("Agrees")}</th><th>{_("Last problem")}</th></tr>{node_rows}</table>
<h2>{_("Alarms")}</h2>
<table><tr><th>{_("Time")}</th><th>{_("Code")}</th><th>{_("Node")}</th><th>{_("Height")}</th><th>{_("Field")}</th><th>{_("Transaction")}</th><th>{_("Message")}</th></tr>{alarm_rows}</table>
<h2>{_("Checkpoints")}</h2>
<table><tr><th>{_("Height")}</th><th>{_("Block hash")}</th><th>{_("State root")}</th><th>{_("Verified at")}</th><th>{_("Nodes agreeing")}</th></tr>{checkpoint_rows}</table>
</body></html>
"""


def make_handler(snapshot: Snapshot) -> type[BaseHTTPRequestHandler]:
    class DashboardHandler(BaseHTTPRequestHandler):
        server_version = "evote-publicnode"

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"code": code, "message": message, "detail": {}}).encode()
            self._send(status, body, "application/json")

        def do_GET(self) -> None:  # noqa: N802 (the http.server protocol)
            parts = urlsplit(self.path)
            if parts.path == "/status.json":
                body = json.dumps(snapshot.get(), ensure_ascii=False, sort_keys=True).encode()
                self._send(200, body, "application/json")
            elif parts.path == "/":
                language = pick_language(parts.query, self.headers.get("Accept-Language", ""))
                self._send(200, render_page(snapshot.get(), language).encode(), "text/html; charset=utf-8")
            else:
                self._error(404, "not_found", "no such page: use / or /status.json")

        do_HEAD = do_GET  # noqa: N815

        def _refuse(self) -> None:
            self._error(405, "method_not_allowed", "the dashboard is read-only")

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: alarms own the log
            return

    return DashboardHandler


def serve(snapshot: Snapshot, host: str, port: int) -> ThreadingHTTPServer:
    """Start the dashboard in a daemon thread; returns the server (``server_address`` has the port)."""
    server = ThreadingHTTPServer((host, port), make_handler(snapshot))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="publicnode-dashboard", daemon=True).start()
    return server
