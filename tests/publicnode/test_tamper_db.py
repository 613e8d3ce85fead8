"""Tampering with one real node's database while it runs: the public node names the node, height and spot.

The rows are append-only through the ORM, so the test edits the SQLite file with raw SQL, as
an insider with file access would, and puts the row back before the next case. A fresh
public node then follows the 4-node network: whether the tampered node is its sync source
(the block fails verification) or is only cross-checked (it differs from the verified
copy), an error alarm must name that node, the height and the changed field, and no honest
node may be accused.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ledger.core.contracts.vote import candidate_address
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx
from publicnode.alarms import Alarm, AlarmLog
from publicnode.client import NodeApi
from publicnode.follower import Follower
from publicnode.store import Store
from publicnode.trust import establish_genesis
from tests.ledger.faults.cluster import ProcessNode
from tests.publicnode.conftest import FinishedChain, NodeDatabase
from tests.publicnode.test_mutations import granule, located, member_spans

pytestmark = [pytest.mark.network, pytest.mark.e2e]
SEED = 7_2026
DB_CASES = 20
HEX = "0123456789abcdef"


def follow_once(finished: FinishedChain, directory: Path) -> tuple[Follower, list[Alarm]]:
    store = Store(directory)
    alarms = AlarmLog(store.alarms_path)
    apis = [NodeApi(url) for url in finished.urls]
    follower = Follower(store, apis, establish_genesis(store, apis, alarms, None), alarms, spot_checks=0)
    follower.run_round()
    return follower, [a for a in alarms.raised if a.severity == "error"]


def assert_named(errors: list[Alarm], node: ProcessNode, height: int, spot: str, what: str) -> Alarm:
    hits = [a for a in errors if a.url == node.url and a.height == height and located(a.location, spot)]
    assert hits, f"{what}: expected {node.node_id} height {height} {spot}; got {[a.log_line() for a in errors]}"
    assert all(a.url == node.url for a in errors), f"{what}: an honest node was accused: {errors}"
    return hits[0]


@contextmanager
def changed_row(db: NodeDatabase, table: str, row_id: int, column: str, value: Any) -> Iterator[None]:
    with db.connect() as connection:
        original = connection.execute(f"SELECT {column} FROM {table} WHERE id = ?", (row_id,)).fetchone()[0]
    db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row_id))
    try:
        yield
    finally:
        db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (original, row_id))


def change_char(text: str, index: int, rng: random.Random, *, keep_json: bool) -> str:
    old = text[index]
    pool = HEX if (keep_json and old in HEX) else "abcdefghijklmnopqrstuvwxyz0123456789:,{}[]\"-x"
    return text[:index] + rng.choice([c for c in pool if c != old]) + text[index + 1:]


def spot_in(value: Any, offset: int, prefix: str) -> str:
    _, spans = member_spans(value)
    covering = [(end - start, path) for start, end, path in spans if start <= offset < end]
    return granule(prefix + ("." + min(covering)[1] if covering else "")) if covering else prefix


def test_single_byte_changes_in_a_node_database_are_named(finished: FinishedChain, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    network = finished.network
    head = network.wait_same_head(timeout=60)
    kinds = ["header", "tx", "certificate", "hash"] * (DB_CASES // 4)
    for number, kind in enumerate(kinds):
        node = rng.choice(network.nodes)
        db = NodeDatabase(node.database)
        height = rng.randrange(1, head + 1)
        block = db.block_row(height)
        txs = db.tx_rows(height)
        if kind == "tx" and not txs:
            kind = "header"
        if kind == "header":
            index = rng.randrange(len(block["header"]))
            change: tuple[str, int, str, Any] = ("ledger_block", block["id"], "header",
                                                  change_char(block["header"], index, rng, keep_json=False))
            spot = spot_in(json.loads(block["header"]), index, "block.header")
        elif kind == "tx":
            position = rng.randrange(len(txs))
            body = txs[position]["body"]
            index = rng.randrange(len(body))
            change = ("ledger_transaction", txs[position]["id"], "body", change_char(body, index, rng, keep_json=False))
            spot = f"block.txs[{position}]"
        elif kind == "certificate":
            text = block["certificate"]  # JSON text: a hex digit for a hex digit keeps it readable by the node
            index = rng.choice([i for i, c in enumerate(text) if c in HEX])
            change = ("ledger_block", block["id"], "certificate", change_char(text, index, rng, keep_json=True))
            spot = "cert"
        else:
            index = rng.randrange(64)
            change = ("ledger_block", block["id"], "hash", change_char(block["hash"], index, rng, keep_json=True))
            spot = "hash"
        table, row_id, column, value = change
        with changed_row(db, table, row_id, column, value):
            _, errors = follow_once(finished, tmp_path / f"case-{number}")
        assert_named(errors, node, height, spot, f"case {number}: {kind} of {node.node_id} at height {height}")
    follower, errors = follow_once(finished, tmp_path / "after")
    assert errors == [] and follower.chain.height == head  # every row was put back


def transfer_rows(db: NodeDatabase, head: int) -> list[tuple[int, int, dict[str, Any]]]:
    """(height, index, row) of every committed vote."""
    return [(height, position, row) for height in range(1, head + 1)
            for position, row in enumerate(db.tx_rows(height)) if row["type"] == "transfer"]


def run_case(finished: FinishedChain, tmp_path: Path, name: str, node: ProcessNode,
             tamper: Callable[[NodeDatabase], None], restore: Callable[[NodeDatabase], None]) -> list[Alarm]:
    db = NodeDatabase(node.database)
    tamper(db)
    try:
        return follow_once(finished, tmp_path / name)[1]
    finally:
        restore(db)


@pytest.mark.parametrize("victim", [0, 2], ids=["sync-source", "cross-checked"])
def test_a_deleted_vote_is_named(finished: FinishedChain, tmp_path: Path, victim: int) -> None:
    node = finished.network.nodes[victim]
    head = finished.network.wait_same_head(timeout=60)
    height, position, row = transfer_rows(NodeDatabase(node.database), head)[1]
    columns = ", ".join(f'"{c}"' for c in row)

    def restore(db: NodeDatabase) -> None:
        db.execute(f"INSERT INTO ledger_transaction ({columns}) VALUES ({', '.join('?' * len(row))})",
                   tuple(row.values()))

    errors = run_case(finished, tmp_path, "deleted", node,
                      lambda db: db.execute("DELETE FROM ledger_transaction WHERE id = ?", (row["id"],)), restore)
    assert_named(errors, node, height, f"block.txs[{position}]", "deleted vote")


@pytest.mark.parametrize("victim", [0, 3], ids=["sync-source", "cross-checked"])
def test_a_forged_inserted_vote_is_named(finished: FinishedChain, tmp_path: Path, victim: int) -> None:
    node = finished.network.nodes[victim]
    head = finished.network.wait_same_head(timeout=60)
    height, _, row = transfer_rows(NodeDatabase(node.database), head)[0]
    count = len(NodeDatabase(node.database).tx_rows(height))
    forger = PrivateKey.generate()
    forged = make_tx(forger, chain=finished.network.chain, contract="vote", type="transfer",
                     payload={"election": "e1", "to": candidate_address("e1", "alice")})
    values = (forged.id_hex, row["block_id"], count, "vote", "transfer", "e1", forged.sender, forged.to_bytes().decode())

    def tamper(db: NodeDatabase) -> None:
        db.execute('INSERT INTO ledger_transaction (tx_id, block_id, "index", contract, type, election, sender, body) '
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)

    errors = run_case(finished, tmp_path, "forged", node, tamper,
                      lambda db: db.execute("DELETE FROM ledger_transaction WHERE tx_id = ?", (forged.id_hex,)))
    assert_named(errors, node, height, f"block.txs[{count}]", "forged vote")


@pytest.mark.parametrize("victim", [0, 1], ids=["sync-source", "cross-checked"])
def test_two_swapped_blocks_are_named(finished: FinishedChain, tmp_path: Path, victim: int) -> None:
    node = finished.network.nodes[victim]
    head = finished.network.wait_same_head(timeout=60)
    low, high = 2, head - 1

    def swap(db: NodeDatabase) -> None:
        db.execute("UPDATE ledger_block SET height = ? WHERE height = ?", (10**9, low))
        db.execute("UPDATE ledger_block SET height = ? WHERE height = ?", (low, high))
        db.execute("UPDATE ledger_block SET height = ? WHERE height = ?", (high, 10**9))

    errors = run_case(finished, tmp_path, "swapped", node, swap, swap)
    alarm = assert_named(errors, node, low, "block.header.height", "swapped blocks")
    assert alarm.field == "block.header.height"
