"""Unit tests of the Tendermint engine: exact inputs, exact outputs, no network."""

from __future__ import annotations

import pytest

from ledger.core.block import Block, CommitCertificate
from ledger.core.consensus.interface import (
    Broadcast,
    Committed,
    ConsensusConfig,
    Evidence,
    PersistSignerState,
    RequestSync,
    SendTo,
    SignerState,
)
from ledger.core.consensus.messages import CommitMessage, Proposal, sign_proposal
from ledger.core.consensus.signer import Lock, Signer
from ledger.core.consensus.sim_app import MemoryApp, VoteWorkload, make_sim_network
from ledger.core.machine import Ledger
from ledger.core.tx import Transaction

from .cluster import (
    START,
    Cluster,
    assert_persist_before_broadcast,
    broadcasts,
    build_block,
    first_tx,
    make_engine,
    own_votes,
    propose,
    vote,
)

NET = make_sim_network(4)  # height 1 proposers by round: v1, v2, v3, v0
CONFIG = ConsensusConfig()


def started(vid: str | None = "v0", **kwargs: object):  # type: ignore[no-untyped-def]
    engine = make_engine(NET, vid, **kwargs)  # type: ignore[arg-type]
    assert engine.start(START) == []
    return engine


def tick_to_deadline(engine):  # type: ignore[no-untyped-def]
    deadline = engine.next_deadline()
    assert deadline is not None
    return engine.tick(deadline)


# --- liveness and quiet ------------------------------------------------------


def test_single_validator_commits_a_block_when_txs_arrive_and_stays_quiet_when_idle() -> None:
    net = make_sim_network(1)
    app = MemoryApp(net.genesis)
    engine = make_engine(net, "v0", app=app)
    assert engine.start(START) == []
    assert engine.next_deadline() is None
    assert engine.tick(START + 3_600_000) == []

    app.add_tx(first_tx(net))
    outputs = engine.txs_available(START + 10)

    committed = [o for o in outputs if isinstance(o, Committed)]
    assert [c.block.height for c in committed] == [1] and len(committed[0].block.txs) == 1
    committed[0].cert.verify(net.genesis, committed[0].block.header)
    assert_persist_before_broadcast(outputs, "v0")
    assert app.height == 1 and engine.height == 2
    assert engine.next_deadline() is None
    assert engine.tick(START + 3_600_000) == []


def test_idle_network_sends_nothing_and_sets_no_timer() -> None:
    cluster = Cluster(NET)
    assert cluster.log == []
    assert all(e.next_deadline() is None for e in cluster.engines.values())


def test_four_validators_commit_the_workload_with_the_first_proposer_silent() -> None:
    cluster = Cluster(NET, silent={"v1"})
    for phase in VoteWorkload(NET, voters=4).phases():
        target = max(cluster.heights().values()) + 1
        cluster.submit(phase)
        cluster.run_until(lambda target=target: all(cluster.apps[v].height >= target for v in cluster.live))
    chains = {v: [b.hash for b, _ in cluster.apps[v].blocks] for v in cluster.live}
    assert len({tuple(c) for c in chains.values()}) == 1 and len(chains["v0"]) == 5
    first_block, first_cert = cluster.apps["v0"].blocks[0]
    assert first_cert.round >= 1 and first_block.header.proposer != "v1"
    assert all(not app.has_pending_txs() for app in cluster.apps.values() if app is not cluster.apps["v1"])
    for v in cluster.live:
        assert_persist_before_broadcast([o for src, o in cluster.log if src == v], v)
    assert all(cluster.engines[v].next_deadline() is None for v in cluster.live)  # quiet again


# --- locking -----------------------------------------------------------------


def _lock_on(engine, block: Block) -> None:  # type: ignore[no-untyped-def]
    """Drive ``engine`` (v0) to lock ``block`` in round 0, then into round 1 without a decision."""
    assert own_votes(engine.receive(propose(NET, block), "v1", START), "prevote")[0].block == block.hash
    engine.receive(vote(NET, "v1", "prevote", block.hash), "v1", START)
    outputs = engine.receive(vote(NET, "v2", "prevote", block.hash), "v2", START)
    assert own_votes(outputs, "precommit")[0].block == block.hash
    engine.receive(vote(NET, "v1", "precommit", None), "v1", START)
    engine.receive(vote(NET, "v2", "precommit", None), "v2", START)
    tick_to_deadline(engine)  # precommit timeout -> round 1
    assert engine.round == 1


def _to_next_round_by_nil(engine, round: int) -> None:  # type: ignore[no-untyped-def]
    for vid in ("v1", "v2", "v3"):
        engine.receive(vote(NET, vid, "prevote", None, round=round), vid, START)
    for vid in ("v1", "v2"):
        engine.receive(vote(NET, vid, "precommit", None, round=round), vid, START)
    tick_to_deadline(engine)
    assert engine.round == round + 1


def test_locked_validator_prevotes_nil_on_another_block_and_reproposes_its_lock() -> None:
    engine = started()
    block_a = build_block(NET, round=0)
    _lock_on(engine, block_a)

    block_b = build_block(NET, round=1)  # v2's fresh block for round 1
    outputs = engine.receive(propose(NET, block_b), "v2", START)
    assert [v.block for v in own_votes(outputs, "prevote")] == [None]  # locked on A

    engine2 = started()
    _lock_on(engine2, block_a)
    engine2.receive(propose(NET, block_b), "v2", START)
    _to_next_round_by_nil(engine2, 1)
    outputs = engine2.receive(propose(NET, block_a, round=2, pol_round=0), "v3", START)
    assert [v.block for v in own_votes(outputs, "prevote")] == [block_a.hash]  # POL round 0 >= lock
    for vid in ("v1", "v2"):
        engine2.receive(vote(NET, vid, "prevote", None, round=2), vid, START)
        engine2.receive(vote(NET, vid, "precommit", None, round=2), vid, START)
    outputs = tick_to_deadline(engine2)  # prevote timeout -> nil precommit; then precommit timeout
    while engine2.round == 2:
        outputs = tick_to_deadline(engine2)
    proposals = [m for m in broadcasts(outputs) if isinstance(m, Proposal)]
    assert engine2.round == 3 and len(proposals) == 1
    assert proposals[0].block.hash == block_a.hash and proposals[0].pol_round == 0
    pol = [m for m in broadcasts(outputs) if not isinstance(m, Proposal) and m.round == 0]
    assert {v.validator for v in pol} == {"v0", "v1", "v2"}  # the proof of lock travels with it


def test_locked_precommit_never_goes_to_a_fresh_block_in_a_later_round() -> None:
    engine = started()
    block_a = build_block(NET, round=0)
    _lock_on(engine, block_a)
    block_b = build_block(NET, round=1)
    all_outputs = engine.receive(propose(NET, block_b), "v2", START)
    for vid in ("v1", "v2"):
        all_outputs += engine.receive(vote(NET, vid, "prevote", block_b.hash, round=1), vid, START)
    for vid in ("v1", "v2"):
        all_outputs += engine.receive(vote(NET, vid, "precommit", block_b.hash, round=1), vid, START)
    signed = own_votes(all_outputs, "prevote") + own_votes(all_outputs, "precommit")
    assert signed and all(v.block != block_b.hash for v in signed)
    assert not [o for o in all_outputs if isinstance(o, Committed)]  # 2 precommits + ours (nil): no quorum


# --- equivocation -------------------------------------------------------------


def test_double_vote_yields_evidence_exactly_once_and_counts_once() -> None:
    engine = started()
    block_a = build_block(NET, round=0)
    other = build_block(NET, round=0, nonce=7).hash
    engine.receive(propose(NET, block_a), "v1", START)
    first = vote(NET, "v2", "prevote", block_a.hash)
    second = vote(NET, "v2", "prevote", other)
    outputs = engine.receive(first, "v2", START) + engine.receive(second, "v2", START)
    assert [o for o in outputs if isinstance(o, Evidence)] == [Evidence(first, second)]
    deadline = engine.next_deadline()
    outputs = engine.receive(vote(NET, "v2", "prevote", None), "v2", START)
    outputs += engine.receive(second, "v2", START) + engine.receive(vote(NET, "v2", "prevote", other), "v2", START)
    assert not [o for o in outputs if isinstance(o, Evidence)]
    # v0 (A) + v2 (A, other, nil) is 2 validators: no 2/3+ of prevotes, so no prevote timeout yet.
    assert engine.next_deadline() == deadline and engine.step == "prevote"
    outputs = engine.receive(vote(NET, "v3", "prevote", block_a.hash), "v3", START)
    assert own_votes(outputs, "precommit")[0].block == block_a.hash


# --- crash-restart safety ---------------------------------------------------------


def _persisted(outputs: list[object]) -> SignerState:
    return [o.state for o in outputs if isinstance(o, PersistSignerState)][-1]


def test_restart_resends_the_last_vote_and_never_signs_a_conflicting_one() -> None:
    engine = started()
    block_a = build_block(NET, round=0)
    state = _persisted(engine.receive(propose(NET, block_a), "v1", START))
    assert (state.height, state.round, state.step, state.block) == (1, 0, 2, block_a.hash.hex())

    restarted = make_engine(NET, "v0", signer_state=SignerState.from_dict(state.to_dict()))
    outputs = restarted.start(START)
    assert [v.block for v in own_votes(outputs, "prevote")] == [block_a.hash]  # same content, re-sent
    assert not [o for o in outputs if isinstance(o, PersistSignerState)] and restarted.step == "prevote"

    block_b = build_block(NET, round=0, nonce=3)  # the proposer equivocates after our restart
    outputs = restarted.receive(propose(NET, block_b), "v1", START)
    while restarted.step == "prevote":  # rebroadcasts, then the stall timeout precommits nil
        outputs += tick_to_deadline(restarted)
    assert {v.block for v in own_votes(outputs, "prevote")} <= {block_a.hash}
    assert [v.block for v in own_votes(outputs, "precommit")] == [None]
    assert_persist_before_broadcast(outputs, "v0", initial=state)


def test_signer_refuses_going_back_or_a_different_block_in_the_same_step() -> None:
    signer = Signer(NET.genesis.chain, "v0", NET.keys["v0"], SignerState(2, 1, 2, "aa" * 32))
    assert not signer.may_sign(2, 1, 2, bytes.fromhex("bb" * 32))
    assert not signer.may_sign(2, 1, 2, None)
    assert not signer.may_sign(2, 0, 3, None) and not signer.may_sign(1, 5, 3, None)
    assert signer.may_sign(2, 1, 2, bytes.fromhex("aa" * 32)) and signer.may_sign(2, 1, 3, None)
    assert signer.vote("prevote", 2, 1, None, Lock()) is None
    signed = signer.vote("precommit", 2, 1, None, Lock())
    assert signed is not None and signer.last == SignerState(2, 1, 3, None)


def test_restart_after_precommit_keeps_the_lock() -> None:
    engine = started()
    block_a = build_block(NET, round=0)
    engine.receive(propose(NET, block_a), "v1", START)
    engine.receive(vote(NET, "v1", "prevote", block_a.hash), "v1", START)
    state = _persisted(engine.receive(vote(NET, "v2", "prevote", block_a.hash), "v2", START))
    assert state.step == 3 and state.locked_round == 0 and state.locked_block == block_a.hash.hex()

    restarted = make_engine(NET, "v0", signer_state=SignerState.from_dict(state.to_dict()))
    restarted.start(START)
    for vid in ("v1", "v2"):  # f+1 validators in round 1: skip there
        restarted.receive(vote(NET, vid, "prevote", None, round=1), vid, START)
    assert restarted.round == 1
    outputs = restarted.receive(propose(NET, build_block(NET, round=1)), "v2", START)
    assert [v.block for v in own_votes(outputs, "prevote")] == [None]


def test_signer_state_without_lock_keeps_the_original_four_keys() -> None:
    state = SignerState(3, 1, 2, None)
    assert state.to_dict() == {"height": 3, "round": 1, "step": 2, "block": None}
    assert SignerState.from_dict(state.to_dict()) == state


# --- proposal validation -------------------------------------------------------------


def _bad_tx_block() -> Block:
    good = first_tx(NET)
    bad = Transaction(good.chain, good.contract, good.type, good.payload, good.signer, good.nonce, NET.keys["v3"].sign(b"x"))
    ledger = Ledger(NET.genesis)
    result = ledger.build_block([bad], proposer="v1", round=0, time=START, verified={(bad.id, bad.sig)})
    assert result.pending.block.txs == (bad,)
    return result.pending.block


def _bad_root_block() -> Block:
    block = build_block(NET, round=0)
    header = block.header
    forged = type(header)(header.chain, header.height, header.round, header.prev, header.time, header.proposer,
                          header.txs, header.tx_root, bytes(32))
    return Block(forged, block.txs)


INVALID_SIGNED = {
    "bad_state_root": lambda: propose(NET, _bad_root_block()),
    "bad_tx_signature": lambda: propose(NET, _bad_tx_block()),
    "time_too_far_ahead": lambda: propose(NET, build_block(NET, round=0, time=START + CONFIG.max_clock_drift_ms + 1)),
    "time_not_after_head": lambda: propose(NET, build_block(NET, round=0, time=NET.genesis.time)),
    "header_round_mismatch": lambda: propose(NET, build_block(NET, round=4), round=0, proposer="v1"),
}


@pytest.mark.parametrize("case", sorted(INVALID_SIGNED))
def test_signed_invalid_proposal_gets_an_immediate_nil_prevote(case: str) -> None:
    engine = started()
    outputs = engine.receive(INVALID_SIGNED[case](), "v1", START)
    assert [v.block for v in own_votes(outputs, "prevote")] == [None]


def _forged_signature() -> Proposal:
    block = build_block(NET, round=0)
    good = propose(NET, block)
    return Proposal(good.chain, 1, 0, -1, block, "v1", NET.keys["v2"].sign(good.signing_message()))


UNAUTHENTIC = {
    "bad_signature": _forged_signature,
    "wrong_proposer": lambda: propose(NET, build_block(NET, round=1), round=0, proposer="v2"),
    "non_validator": lambda: sign_proposal(NET.authority, chain=NET.genesis.chain, height=1, round=0, pol_round=-1,
                                           block=build_block(NET, round=0), proposer="v1"),
}


@pytest.mark.parametrize("case", sorted(UNAUTHENTIC))
def test_unauthentic_proposal_is_ignored_and_the_timeout_prevotes_nil(case: str) -> None:
    app = MemoryApp(NET.genesis)
    engine = started(app=app)
    app.add_tx(first_tx(NET))
    engine.txs_available(START)  # pending txs: the propose timeout runs
    outputs = engine.receive(UNAUTHENTIC[case](), "v1", START)
    assert own_votes(outputs, "prevote") == []
    assert [v.block for v in own_votes(tick_to_deadline(engine), "prevote")] == [None]


# --- catch-up ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> list[tuple[Block, CommitCertificate]]:
    cluster = Cluster(NET)
    for phase in VoteWorkload(NET, voters=2).phases()[:3]:
        target = cluster.apps["v0"].height + 1
        cluster.submit(phase)
        cluster.run_until(lambda target=target: cluster.apps["v0"].height >= target)
    return cluster.apps["v0"].blocks


@pytest.mark.parametrize("vid", ["v3", None])
def test_commit_messages_bring_a_node_or_follower_up_to_date(chain, vid) -> None:  # type: ignore[no-untyped-def]
    engine = started(vid)
    outputs = engine.receive(CommitMessage(*chain[2]), "v1", START)
    assert outputs == [RequestSync("v1", 1)]
    assert engine.receive(CommitMessage(*chain[2]), "v2", START) == []  # rate-limited
    block, cert = chain[0]
    weak = CommitCertificate(cert.height, cert.round, cert.block, cert.signatures[:2])
    assert engine.receive(CommitMessage(block, weak), "v1", START) == []
    outputs = engine.receive(CommitMessage(block, cert), "v1", START)
    assert outputs == [Committed(block, cert)] and engine.height == 2
    outputs = engine.receive(CommitMessage(*chain[1]), "v1", START)
    assert [o for o in outputs if isinstance(o, Committed)] == [Committed(*chain[1])]
    assert engine.height == 3 and not broadcasts(outputs)


def test_next_height_commit_is_buffered_and_applied_after_the_current_one(chain) -> None:  # type: ignore[no-untyped-def]
    engine = started()
    assert engine.receive(CommitMessage(*chain[1]), "v1", START) == []
    outputs = engine.receive(CommitMessage(*chain[0]), "v2", START)
    assert [o.block.height for o in outputs if isinstance(o, Committed)] == [1, 2]


def test_a_peer_voting_on_a_decided_height_gets_the_commit(chain) -> None:  # type: ignore[no-untyped-def]
    engine = started()
    engine.receive(CommitMessage(*chain[0]), "v1", START)
    stale = vote(NET, "v2", "precommit", None, height=1, round=3)
    assert engine.receive(stale, "v2", START) == [SendTo("v2", CommitMessage(*chain[0]))]
    assert engine.receive(stale, "v2", START + 10) == []  # rate-limited per peer and height
    assert engine.receive(stale, "v2", START + CONFIG.rebroadcast_ms) == [SendTo("v2", CommitMessage(*chain[0]))]


def test_follower_commits_from_observed_precommits_and_never_signs() -> None:
    follower = started(None)
    block = build_block(NET, round=0)
    outputs = follower.receive(propose(NET, block), "v1", START)
    for vid in ("v1", "v2", "v3"):
        outputs += follower.receive(vote(NET, vid, "precommit", block.hash), vid, START)
    assert [o.block.hash for o in outputs if isinstance(o, Committed)] == [block.hash]
    assert not [o for o in outputs if isinstance(o, (Broadcast, PersistSignerState))]
    assert follower.next_deadline() is None


def test_engine_rejects_a_key_that_is_not_the_validators() -> None:
    with pytest.raises(ValueError):
        make_engine(NET, "v0").__class__(NET.genesis, MemoryApp(NET.genesis), validator_id="v0", key=NET.keys["v1"],
                                          signer_state=None, config=CONFIG, now=START)


@pytest.mark.parametrize("slack, prevoted", [(0, True), (-1, False)])
def test_a_proposal_over_max_block_bytes_gets_a_nil_prevote(slack: int, prevoted: bool) -> None:
    """The genesis size limit gates our prevote: exactly at the limit is fine, one byte over is nil."""
    size = len(build_block(NET, round=0).to_bytes())
    net = make_sim_network(4, params={"max_block_bytes": size + slack})
    block = build_block(net, round=0)
    assert len(block.to_bytes()) == size  # same transactions, same size
    engine = make_engine(net, "v0")
    assert engine.start(START) == []
    outputs = engine.receive(propose(net, block), "v1", START)
    assert [v.block for v in own_votes(outputs, "prevote")] == [block.hash if prevoted else None]
