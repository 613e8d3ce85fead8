"""A real 4-node network with a finished election, shared by the public node tests.

One network per session (starting four node processes and committing an election costs
seconds): the tests that tamper with a node's database restore the row before they end, and
the growing-chain test only appends a second election.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.client import NodeClient
from ledger.core.tx import make_tx
from tests.ledger.faults.cluster import ProcessNetwork, build_network, get_json
from tests.ledger.node.support import CANDIDATES, election_setup, vote, voter_keys

VOTERS = 12


@dataclass
class FinishedChain:
    """The network and the bytes it served once the election was closed (for the replay server)."""

    network: ProcessNetwork
    genesis: bytes
    status: dict[str, Any]
    entries: list[bytes]      # GET /v1/blocks/{h} bodies, h = 1..height, from the first node

    @property
    def height(self) -> int:
        return len(self.entries)

    @property
    def urls(self) -> list[str]:
        return self.network.urls


def commit(network: ProcessNetwork, txs: list[Any]) -> None:
    statuses = NodeClient(network.urls[:1], timeout_s=30).commit_many(txs, timeout_s=60)
    assert {s.status for s in statuses} == {"committed"}, statuses


def run_election(network: ProcessNetwork, election: str, voters: int) -> None:
    """create/register/mint/open, votes in a few blocks from every node, close."""
    keys = voter_keys(voters, f"{election}-{uuid.uuid4().hex}")
    commit(network, election_setup(network.authority, network.chain, keys, election=election))
    for start in range(0, voters, 4):
        commit(network, [vote(k, network.chain, CANDIDATES[i % 3], election=election)
                         for i, k in enumerate(keys[start:start + 4], start)])
    commit(network, [make_tx(network.authority, chain=network.chain, contract="vote", type="close",
                             payload={"election": election})])


def fetch(url: str) -> bytes:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FinishedChain]:
    network = build_network(tmp_path_factory.mktemp("publicnode-net"), 4)
    try:
        network.start_all()
        run_election(network, "e1", VOTERS)
        height = network.wait_same_head(timeout=60)
        url = network.urls[0]
        entries = [fetch(f"{url}/v1/blocks/{h}") for h in range(1, height + 1)]
        yield FinishedChain(network, fetch(f"{url}/v1/genesis"), get_json(f"{url}/v1/status"), entries)
    finally:
        network.shutdown()


# --- tampering with a running node's SQLite database (the ORM refuses: rows are append-only) ------


class NodeDatabase:
    """Raw SQL on one node's database file, so each test can change a row and put it back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    def block_row(self, height: int) -> dict[str, Any]:
        with self.connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM ledger_block WHERE height = ?", (height,)).fetchone()
            return dict(row)

    def tx_rows(self, height: int) -> list[dict[str, Any]]:
        with self.connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT t.* FROM ledger_transaction t JOIN ledger_block b ON t.block_id = b.id "
                              "WHERE b.height = ? ORDER BY t.\"index\"", (height,)).fetchall()
            return [dict(r) for r in rows]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        db = self.connect()
        try:
            db.execute(sql, params)
        finally:
            db.close()


def certificate_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
