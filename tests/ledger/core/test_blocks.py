"""Block validity, commit certificates and the genesis document."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import pytest

from ledger.core.block import Block, BlockHeader, CommitCertificate, Vote, sign_vote
from ledger.core.encoding import decode, encode
from ledger.core.errors import BlockInvalid, CertificateInvalid, GenesisInvalid
from ledger.core.genesis import Genesis, Validator
from ledger.core.machine import Ledger
from ledger.core.merkle import compute_merkle_root

from .factory import ChainBuilder, Election, Network, certify, key_for, make_network, open_election_chain


@cache
def open_chain() -> tuple[ChainBuilder, Election, list[Any]]:
    return open_election_chain(tokens=6)


def proposed(txs: list[Any] | None = None) -> tuple[Ledger, Block]:
    """A valid next block on a fresh copy of the open chain (two votes by default)."""
    builder, election, tokens = open_chain()
    ledger = Ledger(builder.network.genesis)
    for block, _ in builder.blocks:
        ledger.apply_block(block)
    if txs is None:
        txs = [election.transfer(tokens[0], "alice"), election.transfer(tokens[1], "bob")]
    height = ledger.height + 1
    result = ledger.build_block(txs, proposer=builder.network.genesis.proposer_for(height, 0).id, round=0,
                                time=ledger.head_time + 1000)
    return ledger, result.pending.block


def with_header(block: Block, **changes: Any) -> Block:
    return Block(dataclasses.replace(block.header, **changes), block.txs)


HEADER_FAULTS = [
    pytest.param(lambda b, l: with_header(b, chain="other"), "chain", id="other-chain"),
    pytest.param(lambda b, l: with_header(b, height=b.height + 1), "height", id="height-skips"),
    pytest.param(lambda b, l: with_header(b, height=b.height - 1), "height", id="height-repeats"),
    pytest.param(lambda b, l: with_header(b, prev=bytes(32)), "prev", id="prev-not-head"),
    pytest.param(lambda b, l: with_header(b, time=l.head_time), "time", id="time-equal-to-parent"),
    pytest.param(lambda b, l: with_header(b, time=l.head_time - 1), "time", id="time-before-parent"),
    pytest.param(lambda b, l: with_header(b, proposer="mallory"), "proposer", id="proposer-not-validator"),
    pytest.param(lambda b, l: with_header(b, proposer="node-2" if b.header.proposer != "node-2" else "node-3"), "proposer",
                 id="proposer-not-scheduled"),
    pytest.param(lambda b, l: with_header(b, round=1), "proposer", id="round-changes-the-scheduled-proposer"),
    pytest.param(lambda b, l: with_header(b, txs=1), "txs", id="tx-count-too-low"),
    pytest.param(lambda b, l: Block(b.header, b.txs[:1]), "txs", id="tx-dropped"),
    pytest.param(lambda b, l: Block(b.header, tuple(reversed(b.txs))), "tx_root", id="txs-reordered"),
    pytest.param(lambda b, l: with_header(b, tx_root=bytes(32)), "tx_root", id="tx-root-wrong"),
    pytest.param(lambda b, l: with_header(b, state_root=bytes(32)), "state_root", id="state-root-wrong"),
]


def test_proposed_block_is_valid() -> None:
    ledger, block = proposed()
    pending = ledger.execute_block(block)
    assert pending.state_root == block.header.state_root
    ledger.commit(pending)
    assert ledger.head_hash == block.hash


@pytest.mark.parametrize(("tamper", "field"), HEADER_FAULTS)
def test_execute_block_names_the_field_that_breaks_a_rule(tamper: Any, field: str) -> None:
    ledger, block = proposed()
    root, height = ledger.state.root, ledger.height
    with pytest.raises(BlockInvalid) as info:
        ledger.execute_block(tamper(block, ledger))
    assert info.value.detail["field"] == field
    assert (ledger.state.root, ledger.height) == (root, height)


def test_block_with_more_transactions_than_the_genesis_limit_is_invalid() -> None:
    builder, election, tokens = open_election_chain(network=make_network(params={"max_block_txs": 3}))
    txs = tuple(election.transfer(t, "alice") for t in tokens[:4])
    result = builder.ledger.build_block(txs, proposer="node-0", round=0, time=builder.next_time)
    assert len(result.pending.block.txs) == 3  # the proposer stops at the limit
    header = dataclasses.replace(result.pending.block.header, txs=4, tx_root=compute_merkle_root([t.id for t in txs]))
    with pytest.raises(BlockInvalid) as info:
        builder.ledger.execute_block(Block(header, txs))
    assert info.value.detail["field"] == "txs"


def test_block_with_a_failing_transaction_is_invalid_as_a_whole() -> None:
    _, election, tokens = open_chain()
    ledger, block = proposed()
    double = election.transfer(tokens[0], "carol", nonce=1)
    txs = (*block.txs, double)
    header = dataclasses.replace(block.header, txs=3, tx_root=compute_merkle_root([t.id for t in txs]))
    with pytest.raises(BlockInvalid) as info:
        ledger.execute_block(Block(header, txs))
    detail = info.value.detail
    assert (detail["field"], detail["tx_index"], detail["reason"], detail["tx"]) == ("txs", 2, "token_already_spent", double.id.hex())


def test_same_transaction_twice_in_one_block_is_a_replay() -> None:
    _, election, tokens = open_chain()
    vote = election.transfer(tokens[0], "alice")
    ledger, _ = proposed([])
    result = ledger.build_block([vote, vote], proposer="node-0", round=0, time=ledger.head_time + 1000)
    assert [e.code for _, e in result.rejected] == ["tx_replayed"]


def test_empty_block_still_advances_the_state_root() -> None:
    ledger, block = proposed([])
    assert block.txs == () and block.header.tx_root == compute_merkle_root([])
    assert block.header.state_root != ledger.state.root


# --- commit certificates ---------------------------------------------------------------

def _cert_case(network: Network, header: BlockHeader, case: str) -> CommitCertificate:
    cert = certify(network, header)
    sigs = cert.signatures
    if case == "all":
        return cert
    if case == "quorum":
        return certify(network, header, signers=["node-0", "node-1", "node-3"])
    if case == "below-quorum":
        return certify(network, header, signers=["node-0", "node-1"])
    if case == "empty":
        return CommitCertificate(header.height, header.round, header.hash, ())
    if case == "unsorted":
        return CommitCertificate(cert.height, cert.round, cert.block, tuple(reversed(sigs)))
    if case == "duplicate-validator":
        return CommitCertificate(cert.height, cert.round, cert.block, (sigs[0], sigs[0], sigs[1], sigs[2]))
    if case == "non-validator":
        return CommitCertificate(cert.height, cert.round, cert.block, (*sigs, ("zz-mallory", sigs[0][1])))
    if case == "bad-signature":
        return CommitCertificate(cert.height, cert.round, cert.block, ((sigs[0][0], sigs[1][1]), *sigs[1:]))
    if case == "other-block":
        return CommitCertificate(cert.height, cert.round, bytes(32), sigs)
    if case == "other-height":
        return CommitCertificate(cert.height + 1, cert.round, cert.block, sigs)
    if case == "other-round":
        return CommitCertificate(cert.height, cert.round + 1, cert.block, sigs)
    if case == "prevotes":
        votes = [sign_vote(k, chain=header.chain, kind="prevote", height=header.height, round=header.round,
                           block=header.hash, validator=v) for v, k in network.validator_keys.items()]
        return CommitCertificate.from_votes(votes)
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "valid"),
    [("all", True), ("quorum", True), ("below-quorum", False), ("empty", False), ("unsorted", False),
     ("duplicate-validator", False), ("non-validator", False), ("bad-signature", False), ("other-block", False),
     ("other-height", False), ("other-round", False), ("prevotes", False)],
)
def test_commit_certificate_needs_sorted_valid_precommits_over_two_thirds(case: str, valid: bool) -> None:
    builder, _, _ = open_chain()
    block, _ = builder.blocks[-1]
    cert = _cert_case(builder.network, block.header, case)
    if valid:
        cert.verify(builder.network.genesis, block.header)
        return
    with pytest.raises(CertificateInvalid):
        cert.verify(builder.network.genesis, block.header)


@pytest.mark.parametrize(
    ("signers", "valid"),
    [(["big", "a"], False), (["big", "a", "b"], True), (["a", "b", "c"], False), (["big", "a", "b", "c"], True)],
)
def test_quorum_counts_voting_power_not_heads(signers: list[str], valid: bool) -> None:
    keys = {name: key_for(f"weighted-{name}") for name in ("big", "a", "b", "c")}
    base = make_network()
    genesis = Genesis(base.genesis.chain, base.genesis.time,
                      tuple(Validator(n, n, k.public_key, 3 if n == "big" else 1) for n, k in keys.items()),
                      base.genesis.authorities, base.genesis.contracts, {})
    network = Network(genesis, keys, base.authority_key)  # type: ignore[arg-type]
    assert genesis.quorum_power() == 5  # total 6: more than 4 needed
    header = BlockHeader(genesis.chain, 1, 0, genesis.hash, genesis.time + 1, "a", 0, compute_merkle_root([]), bytes(32))
    cert = certify(network, header, signers=signers)
    if valid:
        cert.verify(genesis, header)
    else:
        with pytest.raises(CertificateInvalid):
            cert.verify(genesis, header)


@pytest.mark.parametrize(("total", "quorum"), [(1, 1), (2, 2), (3, 3), (4, 3), (6, 5), (7, 5), (10, 7), (31, 21), (100, 67)])
def test_quorum_power_is_the_smallest_integer_above_two_thirds(total: int, quorum: int) -> None:
    base = make_network(validators=1)
    v = base.genesis.validators[0]
    genesis = dataclasses.replace(base.genesis, validators=(dataclasses.replace(v, power=total),))
    assert genesis.quorum_power() == quorum
    assert 3 * quorum > 2 * total >= 3 * (quorum - 1)


def test_vote_signature_binds_every_field() -> None:
    network = make_network()
    key = network.validator_keys["node-0"]
    vote = sign_vote(key, chain=network.chain, kind="precommit", height=3, round=1, block=b"\x01" * 32, validator="node-0")
    vote.verify(network.genesis)
    for change in ({"kind": "prevote"}, {"height": 4}, {"round": 0}, {"block": None}, {"chain": "x"}, {"validator": "node-1"}):
        with pytest.raises(Exception):
            dataclasses.replace(vote, **change).verify(network.genesis)


def test_vote_from_non_validator_is_refused() -> None:
    network = make_network()
    vote = sign_vote(key_for("x"), chain=network.chain, kind="prevote", height=1, round=0, block=None, validator="mallory")
    with pytest.raises(CertificateInvalid):
        vote.verify(network.genesis)
    assert Vote.from_dict(decode(encode(vote.to_dict()))) == vote


# --- genesis ---------------------------------------------------------------------------

def _genesis_dict(**changes: Any) -> dict[str, Any]:
    data = make_network().genesis.to_dict()
    data.update(changes)
    return data


GENESIS_FAULTS = [
    pytest.param(lambda d: {**d, "v": 2}, id="version"),
    pytest.param(lambda d: {**d, "validators": []}, id="no-validators"),
    pytest.param(lambda d: {**d, "validators": d["validators"] + d["validators"][:1]}, id="duplicate-validator"),
    pytest.param(lambda d: {**d, "validators": [d["validators"][0], {**d["validators"][0], "id": "other"}]},
                 id="duplicate-validator-key"),
    pytest.param(lambda d: {**d, "validators": [{**d["validators"][0], "power": 0}]}, id="zero-power"),
    pytest.param(lambda d: {**d, "validators": [{**d["validators"][0], "pubkey": "04" + "11" * 64}]}, id="off-curve-key"),
    pytest.param(lambda d: {**d, "validators": [{**d["validators"][0], "pubkey": "02" + "11" * 32}]}, id="compressed-key"),
    pytest.param(lambda d: {**d, "authorities": d["authorities"] * 2}, id="duplicate-authority"),
    pytest.param(lambda d: {**d, "contracts": d["contracts"] * 2}, id="duplicate-contract"),
    pytest.param(lambda d: {**d, "contracts": [{"id": "vote", "source_sha256": "AB" * 32}]}, id="uppercase-source-hash"),
    pytest.param(lambda d: {**d, "params": {"max_block_txs": 0}}, id="zero-param"),
    pytest.param(lambda d: {**d, "params": {"block_reward": 1}}, id="unknown-param"),
    pytest.param(lambda d: {**d, "extra": 1}, id="unknown-field"),
    pytest.param(lambda d: {k: v for k, v in d.items() if k != "time"}, id="missing-field"),
    pytest.param(lambda d: {**d, "chain": "has space"}, id="bad-chain-id"),
]


@pytest.mark.parametrize("tamper", GENESIS_FAULTS)
def test_genesis_rejects_invalid_documents_with_genesis_invalid(tamper: Any) -> None:
    with pytest.raises(GenesisInvalid) as info:
        Genesis.from_bytes(encode(tamper(_genesis_dict())))
    assert info.value.code == "genesis_invalid"


def test_genesis_rejects_non_canonical_bytes() -> None:
    data = make_network().genesis.to_bytes()
    with pytest.raises(GenesisInvalid):
        Genesis.from_bytes(data + b" ")


def test_proposer_rotates_with_height_and_round() -> None:
    genesis = make_network().genesis
    ids = [v.id for v in genesis.validators]
    assert [genesis.proposer_for(h, 0).id for h in range(1, 6)] == [ids[1], ids[2], ids[3], ids[0], ids[1]]
    assert genesis.proposer_for(1, 1).id == ids[2]
    assert genesis.max_faulty() == 1


def test_first_failing_transaction_wins_over_a_later_bad_signature() -> None:
    """Signatures are checked in a batch first; the reported failure must not change."""
    _, election, tokens = open_chain()
    ledger, block = proposed()
    replay = block.txs[0]
    forged = dataclasses.replace(election.transfer(tokens[2], "bob"), sig=key_for("mallory").sign(b"x"))
    txs = (*block.txs, replay, forged)
    header = dataclasses.replace(block.header, txs=len(txs), tx_root=compute_merkle_root([t.id for t in txs]))
    with pytest.raises(BlockInvalid) as info:
        ledger.execute_block(Block(header, txs))
    assert (info.value.detail["tx_index"], info.value.detail["reason"]) == (2, "tx_replayed")
    txs = (*block.txs, forged, replay)
    header = dataclasses.replace(block.header, txs=len(txs), tx_root=compute_merkle_root([t.id for t in txs]))
    with pytest.raises(BlockInvalid) as info:
        ledger.execute_block(Block(header, txs))
    assert (info.value.detail["tx_index"], info.value.detail["reason"]) == (2, "signature_invalid")


def test_proposer_rejects_a_bad_signature_among_good_ones() -> None:
    _, election, tokens = open_chain()
    forged = dataclasses.replace(election.transfer(tokens[2], "bob"), sig=key_for("mallory").sign(b"x"))
    good = election.transfer(tokens[3], "bob")
    ledger, _ = proposed([])
    result = ledger.build_block([forged, good], proposer="node-0", round=0, time=ledger.head_time + 1000)
    assert [t.id for t in result.pending.block.txs] == [good.id]
    assert [(t.id, e.code) for t, e in result.rejected] == [(forged.id, "signature_invalid")]


def test_a_verified_pair_skips_only_the_very_same_signature_bytes() -> None:
    """``verified`` holds (id, signature) pairs: a known id with other signature bytes is checked again."""
    from ledger.core.tx import Transaction

    ledger, block = proposed()
    good = block.txs[0]
    forged = Transaction(good.chain, good.contract, good.type, good.payload, good.signer, good.nonce,
                         bytes(31) + b"\x01" + bytes(31) + b"\x01")
    assert forged.id == good.id  # the id excludes the signature
    bad_block = Block(block.header, (forged, *block.txs[1:]))
    with pytest.raises(BlockInvalid) as caught:
        ledger.execute_block(bad_block, verified={(good.id, good.sig)})
    assert caught.value.detail["tx_index"] == 0 and caught.value.detail["reason"] == "signature_invalid"
    ledger.execute_block(block, verified={(tx.id, tx.sig) for tx in block.txs})  # the genuine bytes may skip
