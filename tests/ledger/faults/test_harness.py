"""The fault harness itself: the partition proxy really cuts, and the end-of-run checks really fail."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.ledger.faults.checks import check_no_commit_while_stalled, check_one_chain, check_votes
from tests.ledger.faults.proxy import PairProxies
from tests.ledger.faults.stream import Ack, PreparedVote, VoteRecord

pytestmark = [pytest.mark.network]


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(4096):
                conn.sendall(data)
        except OSError:
            pass


def _roundtrip(port: int, payload: bytes = b"ping", timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(payload)
        return conn.recv(4096)


def test_isolate_blackholes_open_and_new_connections_and_heal_resets_them(echo_port: int) -> None:
    proxies = PairProxies()
    try:
        port = proxies.add("a", "b", echo_port)
        proxies.add("c", "b", echo_port)
        assert _roundtrip(port) == b"ping"
        open_conn = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        open_conn.sendall(b"one")
        assert open_conn.recv(16) == b"one"
        proxies.isolate("a")
        open_conn.sendall(b"two")
        with pytest.raises(TimeoutError):
            open_conn.recv(16)  # swallowed, not refused
        with pytest.raises(TimeoutError):
            _roundtrip(port, timeout=0.5)  # a new connection is accepted, then ignored
        proxies.heal("a")
        with pytest.raises((ConnectionError, OSError)):
            open_conn.sendall(b"three")
            if not open_conn.recv(16):
                raise ConnectionResetError("closed")  # reset on heal: its stream has a hole
        open_conn.close()
        assert _roundtrip(port) == b"ping"
    finally:
        proxies.close()


def test_isolating_one_node_leaves_the_other_pairs_alone(echo_port: int) -> None:
    proxies = PairProxies()
    try:
        cut = proxies.add("a", "b", echo_port)
        other = proxies.add("c", "d", echo_port)
        proxies.isolate("b")
        assert _roundtrip(other) == b"ping"
        with pytest.raises(TimeoutError):
            _roundtrip(cut, timeout=0.5)
    finally:
        proxies.close()


def _entry(height: int, block_hash: str, txs: list[dict[str, object]], at: str = "2026-01-01T00:00:10+00:00") -> dict:  # type: ignore[type-arg]
    return {"height": height, "hash": block_hash, "committed_at": at, "block": {"txs": txs}}


def test_check_one_chain_finds_a_fork() -> None:
    chains = {"a": [_entry(1, "h1", []), _entry(2, "h2", [])], "b": [_entry(1, "h1", []), _entry(2, "x2", [])]}
    with pytest.raises(AssertionError, match="first different height 2"):
        check_one_chain(chains)


def test_check_votes_finds_a_vote_committed_twice_or_in_another_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ledger.faults import checks

    monkeypatch.setattr(checks, "tx_locations", lambda entries: entries[0]["where"])
    vote = PreparedVote("t1", b"", "alice")
    twice = {"a": [{"where": {"t1": [(1, "h1"), (2, "h2")]}}]}
    with pytest.raises(AssertionError, match="more than once"):
        check_votes(twice, [VoteRecord(vote)])
    moved = {"a": [{"where": {"t1": [(2, "h2")]}}]}
    with pytest.raises(AssertionError, match="acknowledged"):
        check_votes(moved, [VoteRecord(vote, ack=Ack("a", 1, "h1", 0.0))])
    lost: dict[str, list[dict[str, dict[str, list[tuple[int, str]]]]]] = {"a": [{"where": {}}]}
    with pytest.raises(AssertionError, match="lacks 1 votes"):
        check_votes(lost, [VoteRecord(vote)])


def test_check_no_commit_while_stalled_finds_an_early_block() -> None:
    chains = {"a": [_entry(5, "h5", []), _entry(6, "h6", [], at="2026-01-01T00:00:05+00:00")]}
    with pytest.raises(AssertionError, match="while 2 of 4 nodes were down"):
        check_no_commit_while_stalled(chains, stalled_at=5, restored_at=1767225607.0)  # 00:00:07
