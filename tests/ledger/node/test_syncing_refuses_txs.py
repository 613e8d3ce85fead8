"""A node that is still catching up refuses submissions with 503, so clients fail over.

Checked against a stale state, a valid vote could be refused for good (``unknown_election``).
The peer here is a stand-in for a slow or hostile one: it claims a far higher chain and then
never delivers blocks, which keeps the node in its initial sync for the whole test.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledger.core.genesis import Genesis
from tests.ledger.node.conftest import dump_logs, make_network, migrated_template
from tests.ledger.node.support import election_setup, http_json, voter_keys, wait_until

pytestmark = [pytest.mark.network, pytest.mark.e2e]


def stalling_peer(genesis: Genesis) -> ThreadingHTTPServer:
    status = json.dumps({"genesis_hash": genesis.hash.hex(), "height": 10**6, "chain": genesis.chain}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/v1/status"):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(status)))
                self.end_headers()
                self.wfile.write(status)
                return
            time.sleep(30)  # blocks never come

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_syncing_node_answers_submissions_with_503_node_starting(tmp_path: Path,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    network = make_network(tmp_path, migrated_template(tmp_path_factory), 4)
    node = network.nodes[0]
    peer = stalling_peer(network.localnet.genesis)
    config_path = node.home / "node.json"
    config = json.loads(config_path.read_text())
    config["peers"] = {peer_id: f"http://127.0.0.1:{peer.server_address[1]}" for peer_id in config["peers"]}
    config_path.write_text(json.dumps(config))
    tx = election_setup(network.authority, network.chain, voter_keys(1, "sync"))[0]
    node.start()
    try:
        status = wait_until(lambda: http_json(node.url + "/v1/status", timeout=2)[1], timeout=60, what="status")
        assert status["participating"] is False, "the node should still be syncing from the stalling peer"
        code, body = http_json(node.url + "/v1/txs", data=tx.to_bytes(), timeout=5)
        assert (code, body["code"]) == (503, "node_starting")
        assert http_json(node.url + "/v1/status", timeout=2)[1]["mempool_size"] == 0
    finally:
        exit_code = node.stop()
        peer.shutdown()
    assert exit_code == 0, dump_logs(network)
