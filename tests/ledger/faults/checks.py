"""End-of-run checks on a process network: one chain everywhere, every acknowledged vote once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from ledger.client import NodeClient
from tests.ledger.faults.cluster import ProcessNetwork, verify_database
from tests.ledger.faults.stream import VoteRecord

ELECTION = "e1"


def read_chains(network: ProcessNetwork) -> dict[str, list[dict[str, Any]]]:
    """Every node's stored blocks, as served by its own ``/v1/blocks``."""
    return {n.node_id: list(NodeClient([n.url], timeout_s=60).iter_blocks(page=500)) for n in network.nodes}


def check_one_chain(chains: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Identical block hashes at every height on every node, heights 1..H without gaps."""
    (first, reference), *others = chains.items()
    hashes = [entry["hash"] for entry in reference]
    assert [entry["height"] for entry in reference] == list(range(1, len(reference) + 1)), f"{first} has gaps"
    for node, entries in others:
        theirs = [entry["hash"] for entry in entries]
        if theirs != hashes:
            diverged = next((h + 1 for h, (a, b) in enumerate(zip(hashes, theirs)) if a != b), None)
            raise AssertionError(f"{node} and {first} differ: {len(theirs)} vs {len(hashes)} blocks, "
                                 f"first different height {diverged}")
    return hashes


def tx_locations(entries: list[dict[str, Any]]) -> dict[str, list[tuple[int, str]]]:
    """tx id (hex) -> every (height, block hash) that holds it."""
    from ledger.core.tx import Transaction
    from ledger.core.encoding import encode

    where: dict[str, list[tuple[int, str]]] = {}
    for entry in entries:
        for tx in entry["block"]["txs"]:
            tx_id = Transaction.from_bytes(encode(tx)).id_hex
            where.setdefault(tx_id, []).append((entry["height"], entry["hash"]))
    return where


def check_votes(chains: dict[str, list[dict[str, Any]]], records: list[VoteRecord]) -> Counter[str]:
    """Every vote the stream attempted is on every chain exactly once; acknowledgements name its block.

    Returns the expected tally (votes per candidate)."""
    for node, entries in chains.items():
        where = tx_locations(entries)
        repeated = {tx_id: spots for tx_id, spots in where.items() if len(spots) > 1}
        assert not repeated, f"{node} holds transactions more than once: {list(repeated.items())[:3]}"
        missing = [r.vote.tx_id for r in records if r.vote.tx_id not in where]
        assert not missing, f"{node} lacks {len(missing)} votes, e.g. {missing[:3]}"
        for record in records:
            if record.ack is not None:
                assert where[record.vote.tx_id] == [(record.ack.height, record.ack.block_hash)], (
                    f"{record.ack.node} acknowledged {record.vote.tx_id} at {record.ack.height} "
                    f"{record.ack.block_hash[:12]}, {node} holds it at {where[record.vote.tx_id]}")
    return Counter(r.vote.candidate for r in records)


def check_tallies(network: ProcessNetwork, expected: Counter[str]) -> None:
    for node in network.nodes:
        tally = NodeClient([node.url]).query("vote", "tally", {"election": ELECTION})
        assert tally["candidates"] == dict(expected) | {c: 0 for c in tally["candidates"] if c not in expected}, (
            f"{node.node_id} tallies {tally['candidates']}, the accepted votes are {dict(expected)}")
        assert tally["totals"]["spent"] == sum(expected.values())


def check_no_commit_while_stalled(chains: dict[str, list[dict[str, Any]]], stalled_at: int,
                                  restored_at: float) -> None:
    """With quorum lost at ``stalled_at``, nothing above it may have been stored before the restore."""
    for node, entries in chains.items():
        early = [(e["height"], e["committed_at"]) for e in entries
                 if e["height"] > stalled_at and datetime.fromisoformat(e["committed_at"]).timestamp() < restored_at]
        assert not early, f"{node} stored blocks above {stalled_at} while 2 of 4 nodes were down: {early[:3]}"


def check_verify_databases(network: ProcessNetwork, expected: Counter[str]) -> None:
    """``ledger_verify`` from genesis on every (stopped) node database, in parallel."""
    checks = [(node, verify_database(node)) for node in network.nodes]
    for node, process in checks:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"ledger_verify failed on {node.node_id}: {out[-2000:]} {err[-2000:]}"
        report = json.loads(out)
        assert report["ok"] is True
        candidates = report["tallies"][ELECTION]["candidates"]
        assert {c: n for c, n in candidates.items() if n} == dict(expected), (node.node_id, candidates)
