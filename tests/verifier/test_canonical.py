"""The verifier's canonical JSON and transaction-line shortcuts against the reference and the definition."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings, strategies as st

from ledger.core import encoding as reference
from ledger.core.errors import LedgerError
from verifier import canonical
from verifier.errors import Invalid
from verifier.txcheck import body_bytes

keys = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
scalars = st.one_of(st.none(), st.integers(-(2**53 - 1), 2**53 - 1), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def verdict(decode: Any, raw: bytes) -> str | None:
    try:
        decode(raw)
    except (Invalid, LedgerError) as exc:
        return exc.code
    return None


@settings(max_examples=150, deadline=None)
@given(values)
def test_encoding_matches_the_reference_and_round_trips(value: Any) -> None:
    raw = canonical.encode(value)
    assert raw == reference.encode(value)
    assert canonical.decode(raw) == value


@settings(max_examples=300, deadline=None)
@given(values, st.data())
def test_any_changed_byte_gets_the_same_verdict_as_the_reference(value: Any, data: st.DataObject) -> None:
    raw = bytearray(canonical.encode(value))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    changed = bytes(raw)
    assert verdict(canonical.decode, changed) == verdict(reference.decode, changed)


@settings(max_examples=100, deadline=None)
@given(payload=st.dictionaries(keys, values, max_size=4), sig=st.binary(min_size=64, max_size=64))
def test_the_body_cut_from_a_line_is_the_canonical_body(payload: dict[str, Any], sig: bytes) -> None:
    tx = {"v": 1, "chain": "c", "contract": "vote", "type": "transfer", "payload": {**payload, "sig": "x,\"sig\":\""},
          "signer": "04" + "ab" * 64, "nonce": 0, "sig": sig.hex()}
    line = canonical.encode({"height": 1, "id": "0" * 64, "index": 0, "t": "tx", "tx": tx})
    body = {k: v for k, v in tx.items() if k != "sig"}
    assert body_bytes(line) == canonical.encode(body)
    assert hashlib.sha256(body_bytes(line)).digest() == hashlib.sha256(reference.encode(body)).digest()
