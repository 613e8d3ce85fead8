"""decode(encode(x)) == x for every wire object, and the bytes are canonical."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core.block import Block, BlockHeader, CommitCertificate, Vote
from ledger.core.consensus.messages import CommitMessage, Proposal, decode_message, encode_message
from ledger.core.encoding import decode, encode
from ledger.core.errors import LedgerError
from ledger.core.genesis import Genesis
from ledger.core.tx import Transaction, make_tx

from .factory import key_for
from .strategies import blocks, certificates, geneses, headers, proposals, transactions, votes

ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(transactions())
@ROUND_TRIP
def test_transaction_round_trips_through_bytes(tx: Transaction) -> None:
    data = tx.to_bytes()
    decoded = Transaction.from_bytes(data)
    assert decoded == tx
    assert decoded.id == tx.id
    assert decoded.to_bytes() == data


@given(transactions())
@ROUND_TRIP
def test_transaction_id_ignores_the_signature(tx: Transaction) -> None:
    other = Transaction(tx.chain, tx.contract, tx.type, tx.payload, tx.signer, tx.nonce, bytes(64))
    assert other.id == tx.id
    assert tx.id == hashlib.sha256(encode(tx.body())).digest()


@given(headers())
@ROUND_TRIP
def test_block_header_round_trips(header: BlockHeader) -> None:
    decoded = BlockHeader.from_dict(decode(encode(header.to_dict())))
    assert decoded == header
    assert decoded.hash == header.hash


@given(blocks())
@ROUND_TRIP
def test_block_round_trips_through_bytes(block: Block) -> None:
    data = block.to_bytes()
    decoded = Block.from_bytes(data)
    assert decoded == block
    assert decoded.hash == block.hash
    assert decoded.to_bytes() == data


@given(votes())
@ROUND_TRIP
def test_vote_round_trips(vote: Vote) -> None:
    assert Vote.from_dict(decode(encode(vote.to_dict()))) == vote
    assert decode_message(encode_message(vote)) == vote


@given(certificates())
@ROUND_TRIP
def test_commit_certificate_round_trips(cert: CommitCertificate) -> None:
    assert CommitCertificate.from_dict(decode(encode(cert.to_dict()))) == cert


@given(geneses())
@ROUND_TRIP
def test_genesis_round_trips_through_bytes(genesis: Genesis) -> None:
    data = genesis.to_bytes()
    decoded = Genesis.from_bytes(data)
    assert decoded == genesis
    assert decoded.hash == genesis.hash
    assert decoded.to_bytes() == data


@given(proposals())
@ROUND_TRIP
def test_proposal_round_trips_as_a_wire_message(proposal: Proposal) -> None:
    data = encode_message(proposal)
    decoded = decode_message(data)
    assert decoded == proposal
    assert encode_message(decoded) == data


@given(blocks(), certificates())
@ROUND_TRIP
def test_commit_message_round_trips(block: Block, cert: CommitCertificate) -> None:
    message = CommitMessage(block, cert)
    assert decode_message(encode_message(message)) == message


@given(transactions(), st.sampled_from(["sig", "signer", ',"sig":"']))
@ROUND_TRIP
def test_transaction_id_is_right_when_the_payload_contains_sig_lookalikes(tx: Transaction, key: str) -> None:
    """The decoder cuts the top-level sig member out of the bytes to hash the body."""
    payload = {key: tx.sig.hex(), "nested": {key: {"sig": tx.sig.hex()}}, "text": f'"sig":"{tx.sig.hex()}"'}
    crafted = Transaction(tx.chain, tx.contract, tx.type, payload, tx.signer, tx.nonce, tx.sig)
    decoded = Transaction.from_bytes(crafted.to_bytes())
    assert decoded.id == crafted.id == hashlib.sha256(encode(crafted.body())).digest()


@pytest.mark.parametrize("decoder", [Transaction.from_bytes, Block.from_bytes, Genesis.from_bytes],
                         ids=["transaction", "block", "genesis"])
@pytest.mark.parametrize("data", ["{}", None, 7], ids=["str", "none", "int"])
def test_from_bytes_refuses_anything_but_bytes_with_a_ledger_error(decoder: Any, data: Any) -> None:
    with pytest.raises(LedgerError):
        decoder(data)


def test_from_bytes_accepts_a_bytearray() -> None:
    tx = make_tx(key_for("bytearray"), chain="c", contract="vote", type="transfer", payload={})
    assert Transaction.from_bytes(bytearray(tx.to_bytes())) == tx
    block = Block(BlockHeader("c", 1, 0, bytes(32), 1, "p", 1, tx.id, bytes(32)), (tx,))
    assert Block.from_bytes(bytearray(block.to_bytes())) == block


def test_transaction_larger_than_128_kib_is_refused_before_decoding() -> None:
    tx = make_tx(key_for("big"), chain="c", contract="vote", type="transfer", payload={"pad": "x" * 140_000})
    with pytest.raises(LedgerError) as info:
        Transaction.from_bytes(tx.to_bytes())
    assert info.value.code == "malformed" and info.value.detail["limit"] == 131072
