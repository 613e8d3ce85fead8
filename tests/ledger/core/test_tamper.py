"""Any single changed byte of a signed transaction, a block or a certificate is caught.

Caught means: the bytes no longer decode, or the decoded object fails verification
(signature, Merkle root, hash link, state root or commit certificate). Every position
is tried with a "plausible" substitute (another hex digit in hex, another digit in a
number, another letter in a name) because those survive decoding and reach the
verification rules; Hypothesis adds random byte values at random positions.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.block import Block, CommitCertificate
from ledger.core.encoding import decode, encode
from ledger.core.errors import LedgerError
from ledger.core.tx import Transaction
from ledger.core.verify import verify_chain

from .factory import ChainBuilder, Election, checkin_id, open_election_chain

_HEX = b"0123456789abcdef"
_LETTERS = b"abcdefghijklmnopqrstuvwxyz"


def plausible_substitute(byte: int) -> int:
    """A different byte of the same lexical class, so the change is likely to decode."""
    for alphabet in (_HEX, _LETTERS, _LETTERS.upper()):
        if byte in alphabet:
            return alphabet[(alphabet.index(byte) + 1) % len(alphabet)]
    return byte ^ 0x01


def mutate(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1:]


@cache
def scenario() -> tuple[ChainBuilder, Election]:
    builder, election, tokens = open_election_chain(tokens=6)
    builder.seal([
        election.transfer(tokens[0], "alice"),
        election.checkin("st-1", checkin_id("voter-1")),
        election.transfer(tokens[1], "bob"),
        election.transfer(tokens[2], "carol"),
    ])
    return builder, election


def target() -> tuple[list[tuple[Block, CommitCertificate]], Block, CommitCertificate]:
    builder, _ = scenario()
    *prefix, (block, cert) = builder.blocks
    return prefix, block, cert


def block_mutation_is_caught(data: bytes) -> bool:
    prefix, original, cert = target()
    try:
        block = Block.from_bytes(data)
    except LedgerError:
        return True
    report = verify_chain(scenario()[0].network.genesis, [*prefix, (block, cert)])
    return not report.ok and report.failure is not None and report.failure.height == original.height


def cert_mutation_is_caught(data: bytes) -> bool:
    prefix, block, _ = target()
    try:
        cert = CommitCertificate.from_dict(decode(data))
    except LedgerError:
        return True
    report = verify_chain(scenario()[0].network.genesis, [*prefix, (block, cert)])
    return not report.ok and report.failure is not None and report.failure.field == "certificate"


def tx_mutation_is_caught(data: bytes) -> bool:
    try:
        tx = Transaction.from_bytes(data)
    except LedgerError:
        return True
    try:
        tx.verify_signature()
    except LedgerError:
        return True
    return False


def test_unmodified_chain_verifies() -> None:
    prefix, block, cert = target()
    assert verify_chain(scenario()[0].network.genesis, [*prefix, (block, cert)]).ok
    for tx in block.txs:
        assert not tx_mutation_is_caught(tx.to_bytes())


def test_every_byte_of_a_signed_transaction_is_protected() -> None:
    _, block, _ = target()
    for tx in (block.txs[0], block.txs[1]):  # a vote and an authority check-in
        data = tx.to_bytes()
        survivors = [i for i in range(len(data)) if not tx_mutation_is_caught(mutate(data, i, plausible_substitute(data[i])))]
        assert survivors == [], f"undetected changes at {survivors[:5]} of {data!r}"


@pytest.mark.slow
def test_every_byte_of_a_certified_block_is_protected() -> None:
    _, block, _ = target()
    data = block.to_bytes()
    survivors = [i for i in range(len(data)) if not block_mutation_is_caught(mutate(data, i, plausible_substitute(data[i])))]
    assert survivors == [], f"undetected changes at {survivors[:5]}"


def test_every_byte_of_a_commit_certificate_is_protected() -> None:
    _, _, cert = target()
    data = encode(cert.to_dict())
    survivors = [i for i in range(len(data)) if not cert_mutation_is_caught(mutate(data, i, plausible_substitute(data[i])))]
    assert survivors == [], f"undetected changes at {survivors[:5]}"


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_random_byte_change_in_a_transaction_is_caught(data: st.DataObject) -> None:
    _, block, _ = target()
    raw = data.draw(st.sampled_from(block.txs)).to_bytes()
    position = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]))
    assert tx_mutation_is_caught(mutate(raw, position, value))


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_random_byte_change_in_a_block_is_caught(data: st.DataObject) -> None:
    _, block, _ = target()
    raw = block.to_bytes()
    position = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]))
    assert block_mutation_is_caught(mutate(raw, position, value))


def _outcome(decoder, data: bytes):  # type: ignore[no-untyped-def]
    try:
        block = decoder(data)
    except LedgerError as exc:
        return exc.code
    return block, [tx.id for tx in block.txs], block.hash


def test_fast_block_decoder_agrees_with_the_reference_decoder_on_every_change() -> None:
    """Block.from_bytes encodes piecewise and hashes ids from byte slices; compare it with
    the plain from_dict(decode(...)) on every single-byte change of a real block."""
    _, block, _ = target()
    data = block.to_bytes()

    def reference(raw: bytes) -> Block:
        return Block.from_dict(decode(raw))

    assert _outcome(Block.from_bytes, data) == _outcome(reference, data)
    for i in range(len(data)):
        for value in (plausible_substitute(data[i]), data[i] ^ 0x20):
            if value == data[i]:
                continue
            changed = mutate(data, i, value)
            assert _outcome(Block.from_bytes, changed) == _outcome(reference, changed), f"position {i}"
