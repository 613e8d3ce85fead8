"""NodeClient turns a node's unusable answers into typed errors, never a bare ValueError."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger.client import NodeClient
from ledger.errors import NodeRequestFailed, NodeUnavailable


class _HtmlAnswer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<html>maintenance</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.network
def test_a_non_json_answer_is_a_typed_failure(html_server: str) -> None:
    client = NodeClient([html_server], timeout_s=2)
    with pytest.raises(NodeRequestFailed) as caught:
        client.status()
    assert caught.value.code == "not_json"
    statuses = client.statuses()
    assert isinstance(statuses[html_server], (NodeRequestFailed, NodeUnavailable))


class _StuckNode(BaseHTTPRequestHandler):
    """Accepts every transaction and never commits it: a node cut off from the quorum."""

    def _answer(self, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer({"results": [{"id": "ab" * 32, "status": "pending"}]})

    def do_GET(self) -> None:  # noqa: N802
        self._answer({"id": "ab" * 32, "status": "pending"})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.network
def test_a_node_that_never_commits_is_left_for_the_next_one_on_retry() -> None:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _StuckNode) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        urls = [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
        client = NodeClient(urls, timeout_s=2)
        assert client._order()[0] == 0
        (status,) = client.commit_many([b"{}"], timeout_s=0.3)
        assert status.status == "pending"
        assert client._order()[0] == 1  # the retry starts at the other node
        client.commit_many([b"{}"], timeout_s=0.3)
        assert client._order()[0] == 0  # and comes round again
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
