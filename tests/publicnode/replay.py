"""A lightweight stand-in node: serves a captured real chain over HTTP, optionally with one byte changed.

It answers ``/v1/status``, ``/v1/genesis``, ``/v1/blocks?from=&limit=`` and ``/v1/blocks/{h}``
the way ``ledger/node/api.py`` does (pages are concatenations of the stored entries), so a
changed entry reaches the public node exactly as a tampered database row would.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class ReplayNode:
    def __init__(self, node_id: str, genesis: bytes, status: dict[str, Any], entries: list[bytes]) -> None:
        self.node_id = node_id
        self.genesis = genesis
        self.status = dict(status, node_id=node_id, height=len(entries), persisted_height=len(entries))
        self.clean = list(entries)
        self.entries = list(entries)
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        self.entries = list(self.clean)
        self.requests = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, path: str) -> tuple[int, bytes]:
        parts = urlsplit(path)
        entries = self.entries
        if parts.path == "/v1/status":
            return 200, json.dumps(self.status).encode()
        if parts.path == "/v1/genesis":
            return 200, self.genesis
        if parts.path == "/v1/blocks":
            query = parse_qs(parts.query)
            start = int(query.get("from", ["1"])[0])
            limit = int(query.get("limit", ["100"])[0])
            page = entries[start - 1:start - 1 + limit]
            return 200, b'{"blocks":[' + b",".join(page) + b'],"height":' + str(len(entries)).encode() + b"}"
        if parts.path.startswith("/v1/blocks/"):
            height = int(parts.path.rsplit("/", 1)[1])
            if 1 <= height <= len(entries):
                return 200, entries[height - 1]
            return 404, b'{"code":"block_not_found","message":"no such block","detail":{}}'
        return 404, b'{"code":"not_found","message":"","detail":{}}'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                replay.requests += 1
                status, body = replay._answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        return Handler
