"""Every wire decoder, fed arbitrary and near-valid bytes, answers with a typed error or a canonical object.

Untrusted bytes reach these decoders from clients (POST /v1/txs), peers (websocket frames), sync
pages, bundles and genesis files. A decoder that raised anything but its typed error (KeyError,
TypeError, RecursionError, UnicodeDecodeError...) would turn bad input into a 500 or kill a peer
connection's reader; a decoder that accepted two byte forms of one object would let a peer malleate
ids. So for each input: either a typed error, or the decoded object re-encodes to exactly those bytes.

The near-valid inputs start from real encodings (tests/ledger/core/strategies.py) and are mutated
at the byte level (flip, cut, insert, delete, duplicate) and at the structure level (drop, add or
retype one member anywhere in the tree): those reach deep into field validation, where random bytes
never get. Round trips of the valid objects are tests/ledger/core/test_roundtrip.py; this file adds
the hostile side. Long campaign: ``FUZZ_EXAMPLES=50000`` (docs/fuzzing.md).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.block import Block, CommitCertificate, Vote
from ledger.core.consensus.messages import CommitMessage, decode_message, encode_message
from ledger.core.encoding import decode, encode
from ledger.core.errors import LedgerError
from ledger.core.genesis import Genesis
from ledger.core.tx import Transaction
from ledger.node.admission import check_raw_batch, check_txs_frame
from ledger.node.frames import decode_frame, encode_consensus_frame, encode_txs_frame
from ledger.services import read_genesis_file
from tests.ledger.core.strategies import (
    PUBLIC_KEYS,
    blocks,
    certificates,
    geneses,
    json_values,
    proposals,
    transactions,
    votes,
)
from verifier import canonical as verifier_canonical
from verifier.errors import Invalid

from .budget import fuzz_settings

CHAIN = "fuzz"


def _reencode_value(data: bytes) -> bytes:
    return encode(decode(data))


def _reencode_tx(data: bytes) -> bytes:
    return Transaction.from_bytes(data).to_bytes()


def _reencode_block(data: bytes) -> bytes:
    return Block.from_bytes(data).to_bytes()


def _reencode_vote(data: bytes) -> bytes:
    return encode(Vote.from_dict(decode(data)).to_dict())


def _reencode_cert(data: bytes) -> bytes:
    return encode(CommitCertificate.from_dict(decode(data)).to_dict())


def _reencode_message(data: bytes) -> bytes:
    return encode_message(decode_message(data))


def _reencode_frame(data: bytes) -> bytes:
    kind, message = decode_frame(data)
    if kind == "txs":
        return encode_txs_frame([tx.to_bytes() for tx in message])
    return encode_consensus_frame(message)


def _reencode_genesis(data: bytes) -> bytes:
    return Genesis.from_bytes(data).to_bytes()


# name -> decode-and-re-encode; every one must raise only LedgerError.
LEDGER_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "canonical_json": _reencode_value,
    "transaction": _reencode_tx,
    "block": _reencode_block,
    "vote": _reencode_vote,
    "certificate": _reencode_cert,
    "consensus_message": _reencode_message,
    "peer_frame": _reencode_frame,
    "genesis": _reencode_genesis,
}


def _frame_of_txs(txs: list[Transaction]) -> bytes:
    return encode_txs_frame([tx.to_bytes() for tx in txs])


# Valid encodings of every wire object: the seeds the mutations start from.
valid_wire = st.one_of(
    json_values.map(encode),
    transactions().map(lambda tx: tx.to_bytes()),
    blocks().map(lambda block: block.to_bytes()),
    votes().map(lambda vote: encode(vote.to_dict())),
    certificates().map(lambda cert: encode(cert.to_dict())),
    proposals().map(encode_message),
    votes().map(encode_message),
    st.builds(CommitMessage, blocks(), certificates()).map(encode_message),
    st.lists(transactions(), max_size=3).map(_frame_of_txs),
    geneses().map(lambda genesis: genesis.to_bytes()),
)


@st.composite
def byte_mutations(draw: Any, seed: st.SearchStrategy[bytes] = valid_wire) -> bytes:
    raw = bytearray(draw(seed))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del raw[at:]
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
                [b'"', b"\\", b"{", b"[", b",", b":", b" ", b"\xff", b"\xed\xa0\x80", b"1e9", b"-0", b"true"]))
        elif op == "delete":
            del raw[at:at + draw(st.integers(1, 8))]
        elif op == "duplicate":
            end = draw(st.integers(at, min(len(raw), at + 16)))
            raw[end:end] = raw[at:end]
    return bytes(raw)


# Values a decoder must refuse or type-check: the canonical model's types plus JSON it forbids.
hostile_values = st.one_of(
    json_values,
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=2**53, max_value=2**70),
    st.integers(max_value=-(2**53), min_value=-(2**70)),
    st.text(max_size=300),
    st.lists(st.none(), min_size=0, max_size=3),
    st.just({}),
)


def _containers(value: Any, out: list[Any]) -> list[Any]:
    if isinstance(value, (dict, list)):
        out.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, out)
    return out


@st.composite
def structure_mutations(draw: Any) -> bytes:
    """Parse a valid encoding, change one member somewhere in the tree, re-serialise in canonical style."""
    tree = json.loads(draw(valid_wire))
    targets = _containers(tree, [])
    if not targets:
        return json.dumps(draw(hostile_values)).encode()
    target = draw(st.sampled_from(targets))
    op = draw(st.sampled_from(["drop", "add", "retype"]))
    if isinstance(target, dict):
        keys = sorted(target)
        if op == "drop" and keys:
            del target[draw(st.sampled_from(keys))]
        elif op == "retype" and keys:
            target[draw(st.sampled_from(keys))] = draw(hostile_values)
        else:
            target[draw(st.text(max_size=8))] = draw(hostile_values)
    elif target and op != "add":
        index = draw(st.integers(0, len(target) - 1))
        if op == "drop":
            del target[index]
        else:
            target[index] = draw(hostile_values)
    else:
        target.append(draw(hostile_values))
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _assert_typed_or_canonical(data: bytes) -> None:
    for name, reencode in LEDGER_DECODERS.items():
        try:
            again = reencode(data)
        except LedgerError as exc:
            assert exc.code and exc.code.replace("_", "").isalpha(), (name, exc.code)
            continue
        # Accepted: the bytes were the one canonical form of what was decoded.
        assert again == data, (name, data[:200])
    try:
        value = verifier_canonical.decode(data)
    except Invalid as exc:
        assert exc.code in {"encoding_invalid", "encoding_not_canonical"}, exc.code
    else:
        assert verifier_canonical.encode(value) == data
    for checked in check_raw_batch([data], CHAIN, lambda _tx_id: False):
        # The client submission path never raises: each item carries its own typed error.
        assert checked.error is not None or checked.tx is not None
        assert checked.error is None or isinstance(checked.error, LedgerError)
    try:
        check_txs_frame(data, CHAIN, lambda _tx_id: False)
    except LedgerError:
        pass


@given(st.binary(max_size=600))
@fuzz_settings(300)
def test_arbitrary_bytes_get_typed_errors_only(data: bytes) -> None:
    _assert_typed_or_canonical(data)


@given(byte_mutations())
@fuzz_settings(400)
def test_byte_mutations_of_valid_encodings_get_typed_errors_or_decode_canonically(data: bytes) -> None:
    _assert_typed_or_canonical(data)


@given(structure_mutations())
@fuzz_settings(400)
def test_structural_mutations_get_typed_errors_or_decode_canonically(data: bytes) -> None:
    _assert_typed_or_canonical(data)


@given(st.integers(1, 5000), st.sampled_from([b"[", b'{"a":', b'{"t":"vote","m":[']))
@fuzz_settings(30)
def test_deep_nesting_is_a_typed_error_not_a_recursion_crash(depth: int, opener: bytes) -> None:
    closer = {b"[": b"]", b'{"a":': b"}", b'{"t":"vote","m":[': b"]"}[opener]
    _assert_typed_or_canonical(opener * depth + b"1" + closer * depth)


@given(st.one_of(byte_mutations(geneses().map(lambda g: g.to_bytes())), st.binary(max_size=200)),
       st.sampled_from([b"", b"\n", b"\r\n", b"\n\n"]))
@fuzz_settings(100)
def test_genesis_file_reader_gives_genesis_invalid_or_the_canonical_genesis(data: bytes, ending: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "genesis.json"
        path.write_bytes(data + ending)
        try:
            genesis = read_genesis_file(path)
        except LedgerError as exc:
            assert exc.code in {"genesis_invalid", "encoding_invalid", "encoding_not_canonical", "malformed",
                                "public_key_invalid"}, exc.code
        else:
            written = data + ending
            assert genesis.to_bytes() == (written[:-1] if written.endswith(b"\n") else written)


def test_decoders_accept_their_own_valid_encodings() -> None:
    """Guard against a vacuous run: the seeds really decode, so the mutations start from valid bytes."""
    tx = Transaction(CHAIN, "vote", "transfer", {"to": "x"}, PUBLIC_KEYS[0], 0, bytes(64))
    assert _reencode_tx(tx.to_bytes()) == tx.to_bytes()
    frame = _frame_of_txs([tx])
    assert _reencode_frame(frame) == frame
    with pytest.raises(LedgerError):
        _reencode_tx(tx.to_bytes()[:-1])
