"""A stand-in municipal node over loopback that answers /v1/status (and /v1/blocks/<h>) with altered facts.

It relays a real node's answers through a function, so a test can present the dashboard
with a node that holds a different block at the same height, or one that lags behind.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Alter = Callable[[str, dict[str, Any]], Any]  # a JSON-able answer, or bytes sent as they are


def fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@contextmanager
def fake_node(upstream: str, alter: Alter) -> Iterator[str]:
    """Serve ``alter(path, upstream answer)`` for GET requests; yields the fake node's base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            try:
                answer = alter(self.path, fetch_json(upstream + self.path))
                body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                status = 200
            except Exception as exc:  # report, do not hang the client
                body, status = json.dumps({"code": "fake_failed", "message": str(exc)}).encode(), 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
