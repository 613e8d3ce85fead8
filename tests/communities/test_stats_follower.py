"""The follower without a network: catching up page by page, a chain that changed, and the recent-update list."""

from __future__ import annotations

import hashlib
from typing import Any

from communities.follower import RECENT_UPDATES, LedgerFollower

from .stats_polls import CLOSE_AT, OPEN_AT, PollCase, split_into_blocks

CASE = PollCase(
    {"poll": "p1", "title": "t", "method": "single", "options": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
     "units": [{"id": "r", "parent": None, "name": "R"}, {"id": "x", "parent": "r", "name": "X"}],
     "opens_at": OPEN_AT, "closes_at": CLOSE_AT, "weights": "equal"},
    [(i, "x" if i % 2 else "r", 1) for i in range(300)], [(i, "ab"[i % 2]) for i in range(0, 300, 3)])


class ServedChain:
    """What ``NodeClient.blocks`` answers, from a list of block entries (hashes chain them like a node's)."""

    def __init__(self, entries: list[dict[str, Any]], salt: str = "") -> None:
        prev = "00" * 32
        for entry in entries:
            entry["hash"] = hashlib.sha256(f"{salt}{entry['height']}".encode()).hexdigest()
            entry["block"]["header"]["prev"] = prev
            prev = entry["hash"]
        self.entries = entries
        self.calls = 0

    def blocks(self, from_height: int, limit: int) -> dict[str, Any]:
        self.calls += 1
        return {"blocks": self.entries[from_height - 1:from_height - 1 + limit], "height": len(self.entries)}


def follow(chain: ServedChain) -> LedgerFollower:
    return LedgerFollower(lambda: chain)  # type: ignore[arg-type, return-value]


def test_catch_up_reads_page_after_page_and_reports_changed_polls() -> None:
    entries = split_into_blocks(CASE.all_txs(), list(range(1, 400)))
    chain = ServedChain(entries)
    follower = follow(chain)
    assert follower.catch_up() == len(entries)
    assert follower.engine.height == len(entries) and chain.calls == len(entries) // 100 + 2
    assert set(follower.drain()) == {"p1"}
    assert follower.catch_up() == 0 and follower.drain() == {}


def test_a_different_chain_starts_the_engine_over() -> None:
    first = ServedChain(split_into_blocks(CASE.all_txs(), [1, 2]))
    follower = follow(first)
    follower.catch_up()
    other = ServedChain(split_into_blocks(CASE.all_txs()[:1], []) + [
        {"height": h, "block": {"header": {"height": h, "time": OPEN_AT + h * 1000}, "txs": []}}
        for h in range(2, 6)], salt="other")
    follower.client_factory = lambda: other  # type: ignore[assignment, return-value]
    follower.catch_up()
    assert follower.head_hash == other.entries[-1]["hash"] and follower.engine.height == 5
    assert follower.engine.polls["p1"].figures[follower.engine.polls["p1"].root].eligible == 0


def test_a_socket_that_fell_behind_the_kept_updates_is_told_to_take_a_snapshot() -> None:
    follower = follow(ServedChain(split_into_blocks(CASE.all_txs()[:1], [])))
    follower.catch_up()
    number, height, _ = follower.snapshot_for_socket("p1", True)  # type: ignore[misc]
    assert number == 0 and height == 1
    root = follower.engine.polls["p1"].root
    for _ in range(RECENT_UPDATES + 1):
        follower.build_update("p1", {root}, True)
    assert follower.updates_after("p1", 0) is None
    last, pending = follower.updates_after("p1", RECENT_UPDATES - 1)  # type: ignore[misc]
    assert last == RECENT_UPDATES + 1 and len(pending) == 2
    assert follower.updates_after("p1", last) == (last, [])
