"""Mempool admission: strict decoding, signatures, state checks, typed rejection codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.core.consensus.sim_app import SimNetwork, key_for, make_sim_network
from ledger.core.machine import Ledger
from ledger.core.tx import Transaction, make_tx
from ledger.node.mempool import COMMITTED, PENDING, REJECTED, Mempool
from tests.ledger.node.support import build_chain, election_setup, vote, voter_keys

NOW = 1_767_225_700_000


@pytest.fixture
def network() -> SimNetwork:
    return make_sim_network(1)


@pytest.fixture
def voters() -> list:  # type: ignore[type-arg]
    return voter_keys(4)


@pytest.fixture
def ledger(network: SimNetwork, voters: list) -> Ledger:  # type: ignore[type-arg]
    """A ledger where election e1 is open and every voter holds a token."""
    ledger, _ = build_chain(network, [election_setup(network.authority, network.genesis.chain, voters)])
    return ledger


@pytest.fixture
def mempool(ledger: Ledger) -> Mempool:
    return Mempool(ledger, max_txs=10)


def _resign_with(tx: Transaction, sig: bytes) -> bytes:
    return Transaction(tx.chain, tx.contract, tx.type, tx.payload, tx.signer, tx.nonce, sig).to_bytes()


def _bad(network: SimNetwork, voters: list) -> dict[str, Callable[[], bytes]]:  # type: ignore[type-arg]
    chain = network.genesis.chain
    good = vote(voters[0], chain, "alice")
    other = vote(voters[1], chain, "bob")
    return {
        "encoding_not_canonical": lambda: good.to_bytes().replace(b",", b", ", 1),
        "encoding_invalid": lambda: b"{not json",
        "malformed": lambda: b'{"v":1}',
        "signature_invalid": lambda: _resign_with(good, other.sig),
        "wrong_chain": lambda: vote(voters[0], "other-chain", "alice").to_bytes(),
        "unknown_contract": lambda: make_tx(voters[0], chain=chain, contract="lottery", type="draw",
                                            payload={}).to_bytes(),
        "unknown_tx_type": lambda: make_tx(voters[0], chain=chain, contract="vote", type="burn",
                                           payload={}).to_bytes(),
        "wrong_candidate": lambda: make_tx(voters[0], chain=chain, contract="vote", type="transfer",
                                           payload={"election": "e1", "to": "0" * 40}).to_bytes(),
        "token_not_minted": lambda: vote(key_for("stranger"), chain, "alice").to_bytes(),
        "unknown_election": lambda: vote(voters[0], chain, "alice", election="e9").to_bytes(),
        "not_authorised": lambda: make_tx(voters[0], chain=chain, contract="vote", type="close",
                                          payload={"election": "e1"}).to_bytes(),
    }


@pytest.mark.parametrize("code", ["encoding_not_canonical", "encoding_invalid", "malformed", "signature_invalid",
                                  "wrong_chain", "unknown_contract", "unknown_tx_type", "wrong_candidate",
                                  "token_not_minted", "unknown_election", "not_authorised"])
def test_admission_rejects_with_typed_code(mempool: Mempool, network: SimNetwork, voters: list, code: str) -> None:  # type: ignore[type-arg]
    admission, _ = mempool.admit_bytes(_bad(network, voters)[code](), now=NOW)
    assert admission.status == REJECTED
    assert admission.error is not None and admission.error.code == code
    assert len(mempool) == 0


def test_admission_accepts_once_and_dedupes(mempool: Mempool, network: SimNetwork, voters: list) -> None:  # type: ignore[type-arg]
    raw = vote(voters[0], network.genesis.chain, "alice").to_bytes()
    first, tx = mempool.admit_bytes(raw, now=NOW)
    again, _ = mempool.admit_bytes(raw, now=NOW)
    assert (first.status, first.new) == (PENDING, True)
    assert (again.status, again.new) == (PENDING, False)
    assert len(mempool) == 1 and tx is not None and tx.id in mempool


def test_second_spend_of_a_token_is_rejected_at_admission(mempool: Mempool, network: SimNetwork, voters: list) -> None:  # type: ignore[type-arg]
    chain = network.genesis.chain
    assert mempool.admit(vote(voters[0], chain, "alice"), now=NOW).status == PENDING
    second = mempool.admit(vote(voters[0], chain, "bob"), now=NOW)
    assert second.status == REJECTED and second.error is not None and second.error.code == "token_already_spent"
    assert mempool.rejection(bytes.fromhex(second.tx_id or "")).code == "token_already_spent"  # type: ignore[union-attr]


def test_dependent_setup_batch_is_admitted_in_order(network: SimNetwork) -> None:
    voters = voter_keys(2, "batch")
    mempool = Mempool(Ledger(network.genesis), max_txs=100)
    chain = network.genesis.chain
    batch = [*election_setup(network.authority, chain, voters), vote(voters[0], chain, "carol")]
    assert [mempool.admit(tx, now=NOW).status for tx in batch] == [PENDING] * 5
    assert [tx.type for tx in mempool.candidates(max_txs=10, max_bytes=10**6)] == [
        "create", "register", "mint", "open", "transfer"]


def test_committed_transaction_reports_committed(ledger: Ledger, network: SimNetwork, voters: list) -> None:  # type: ignore[type-arg]
    setup = election_setup(network.authority, network.genesis.chain, voters)
    assert Mempool(ledger, max_txs=5).admit(setup[0], now=NOW).status == COMMITTED


def test_full_mempool_refuses_with_mempool_full(network: SimNetwork, voters: list, ledger: Ledger) -> None:  # type: ignore[type-arg]
    mempool = Mempool(ledger, max_txs=1)
    chain = network.genesis.chain
    assert mempool.admit(vote(voters[0], chain, "alice"), now=NOW).status == PENDING
    full = mempool.admit(vote(voters[1], chain, "alice"), now=NOW)
    assert full.status == REJECTED and full.error is not None and full.error.code == "mempool_full"


def test_commit_removes_included_and_drops_the_losing_spend(network: SimNetwork, voters: list) -> None:  # type: ignore[type-arg]
    """Two nodes admitted different spends of one token; the other node's block wins."""
    chain = network.genesis.chain
    setup = election_setup(network.authority, chain, voters)
    winner, loser = vote(voters[0], chain, "alice"), vote(voters[0], chain, "bob", nonce=1)
    here, _ = build_chain(network, [setup])
    mempool = Mempool(here, max_txs=10)
    assert mempool.admit(loser, now=NOW).status == PENDING
    assert mempool.admit(vote(voters[1], chain, "carol"), now=NOW).status == PENDING
    _, blocks = build_chain(network, [setup, [winner]])
    block = blocks[1][0]
    here.apply_block(block)
    mempool.on_commit(block, now=NOW)
    assert len(mempool) == 1
    rejection = mempool.rejection(loser.id)
    assert rejection is not None and rejection.code == "token_already_spent"
    assert mempool.drain_newly_rejected() == [loser.id]


def _count_rechecks(mempool: Mempool, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many transactions each full re-check re-executes."""
    calls: list[int] = []
    real = Mempool._refresh_overlay

    def counting(self: Mempool, now: int) -> None:
        if not (self._overlay_height == self.ledger.height and self._overlay.parent is self.ledger.state):
            calls.append(len(self))
        real(self, now)

    monkeypatch.setattr(Mempool, "_refresh_overlay", counting)
    return calls


def test_a_block_from_unrelated_signers_keeps_the_overlay(network: SimNetwork, voters: list,  # type: ignore[type-arg]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Another node's votes by other voters cannot beat a pending one: no re-check, and screening stays right."""
    chain = network.genesis.chain
    setup = election_setup(network.authority, chain, voters)
    here, _ = build_chain(network, [setup])
    mempool = Mempool(here, max_txs=10)
    mine = vote(voters[1], chain, "carol")
    assert mempool.admit(mine, now=NOW).status == PENDING
    rechecks = _count_rechecks(mempool, monkeypatch)
    theirs = vote(voters[0], chain, "alice")
    _, blocks = build_chain(network, [setup, [theirs]])
    here.apply_block(blocks[1][0])
    mempool.on_commit(blocks[1][0], now=NOW)
    assert rechecks == [] and len(mempool) == 1
    # The foreign voter's token reads through to the new state: a second spend is refused.
    again = mempool.admit(vote(voters[0], chain, "bob", nonce=1), now=NOW)
    assert again.status == REJECTED and again.error is not None and again.error.code == "token_already_spent"
    assert mempool.admit(vote(voters[2], chain, "alice"), now=NOW).status == PENDING


def test_a_block_from_an_authority_or_a_pending_signer_forces_the_recheck(
        network: SimNetwork, voters: list, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    chain = network.genesis.chain
    setup = election_setup(network.authority, chain, voters)
    here, _ = build_chain(network, [setup])
    mempool = Mempool(here, max_txs=10)
    assert mempool.admit(vote(voters[1], chain, "carol"), now=NOW).status == PENDING
    rechecks = _count_rechecks(mempool, monkeypatch)
    close = make_tx(network.authority, chain=chain, contract="vote", type="close", payload={"election": "e1"})
    _, blocks = build_chain(network, [setup, [close]])
    here.apply_block(blocks[1][0])
    mempool.on_commit(blocks[1][0], now=NOW)
    assert rechecks == [1]  # the authority's block: everything re-checked, the vote dropped (election closed)
    assert len(mempool) == 0 and mempool.rejection(vote(voters[1], chain, "carol").id) is not None


def test_verified_ids_require_the_same_signature(mempool: Mempool, network: SimNetwork, voters: list) -> None:  # type: ignore[type-arg]
    chain = network.genesis.chain
    tx = vote(voters[0], chain, "alice")
    mempool.admit(tx, now=NOW)
    forged = Transaction(tx.chain, tx.contract, tx.type, tx.payload, tx.signer, tx.nonce, bytes(63) + b"\x01")
    assert forged.id == tx.id
    assert mempool.verified_ids([tx]) == {(tx.id, tx.sig)}
    assert mempool.verified_ids([forged]) == frozenset()


def test_builder_rejection_is_remembered(mempool: Mempool, network: SimNetwork, voters: list) -> None:  # type: ignore[type-arg]
    from ledger.core.errors import TokenAlreadySpent

    tx = vote(voters[0], network.genesis.chain, "alice")
    mempool.admit(tx, now=NOW)
    mempool.reject(tx, TokenAlreadySpent("spent"))
    assert len(mempool) == 0 and mempool.rejection(tx.id).code == "token_already_spent"  # type: ignore[union-attr]


def test_incremental_recheck_matches_a_full_recheck_after_every_block(network: SimNetwork) -> None:
    """Property: keeping the overlay when a block holds only pending transactions admits exactly what a full re-check does.

    Two mempools see the same admissions and the same blocks: one with the incremental
    re-check (``on_commit``'s fast path), one forced to re-execute everything after each
    block. Blocks are built like another node would: any subset of the pending
    transactions in any order, sometimes with spends this node never saw (forcing the slow
    path and dropping the losers). After every step both agree on the pending set, on
    every admission outcome and on every remembered rejection.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import ledger.node.mempool as mempool_module

    chain = network.genesis.chain
    voters = voter_keys(6, "incremental")
    setup = election_setup(network.authority, chain, voters)
    candidates = ["alice", "bob", "carol"]
    step = st.one_of(
        st.tuples(st.just("admit"), st.integers(0, 5), st.sampled_from(candidates), st.integers(0, 2)),
        st.tuples(st.just("block"), st.lists(st.integers(0, 30), max_size=6, unique=True),
                  st.lists(st.tuples(st.integers(0, 5), st.sampled_from(candidates)), max_size=2)),
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(step, min_size=1, max_size=25))
    def run(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        fast_ledger, _ = build_chain(network, [setup])
        slow_ledger, _ = build_chain(network, [setup])
        fast, slow = Mempool(fast_ledger, max_txs=100), Mempool(slow_ledger, max_txs=100)
        original_every = mempool_module.REBUILD_EVERY
        for action in steps:
            if action[0] == "admit":
                _, voter, candidate, nonce = action
                tx = vote(voters[voter], chain, candidate, nonce=nonce)
                a = fast.admit(tx, now=NOW)
                try:
                    mempool_module.REBUILD_EVERY = 1
                    b = slow.admit(tx, now=NOW)
                finally:
                    mempool_module.REBUILD_EVERY = original_every
                assert (a.status, a.error.code if a.error else "") == (b.status, b.error.code if b.error else "")
            else:
                _, picks, foreign = action
                pending = fast.snapshot()
                chosen = [pending[i] for i in picks if i < len(pending)]
                chosen += [vote(voters[v], chain, c, nonce=7) for v, c in foreign]
                result = fast_ledger.build_block(chosen, proposer=network.genesis.proposer_for(fast_ledger.height + 1, 0).id,
                                                 round=0, time=network.genesis.time + (fast_ledger.height + 1) * 1000)
                if not result.pending.block.txs:
                    continue
                block = result.pending.block
                fast_ledger.commit(result.pending)
                slow_ledger.apply_block(block)
                fast.on_commit(block, now=NOW)
                try:
                    mempool_module.REBUILD_EVERY = 1
                    slow.on_commit(block, now=NOW)
                finally:
                    mempool_module.REBUILD_EVERY = original_every
            assert [tx.id for tx in fast.snapshot()] == [tx.id for tx in slow.snapshot()]
            assert fast.drain_newly_rejected() == slow.drain_newly_rejected()
            assert fast.pending_bytes == slow.pending_bytes

    run()
