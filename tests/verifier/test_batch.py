"""The batched transaction-line checks against the one-line definition, and the key checks of both backends.

``check_batch`` runs the decoding and field checks of a whole batch first and the ECDSA
equations afterwards (for speed); every line must still get exactly the verdict of
``check_tx_line``, which runs all checks of one line in the protocol's order. On the
``cryptography`` path the curve equation of a key is left to OpenSSL's point decoding:
it must refuse exactly the keys the verifier's own integer check refuses.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from verifier import canonical, signatures
from verifier.errors import Invalid
from verifier.signatures import IMPLS, P, CryptoImpl
from verifier.txcheck import SIGNATURE_CODES, TX_MARK, check_batch, check_tx_line

from .helpers import election_content, finished_election, plain_lines

A, B = P - 3, signatures.B


def on_curve(x: int, y: int) -> bool:
    return (y * y - (x * x * x + A * x + B)) % P == 0


@pytest.fixture(scope="module")
def block_lines() -> list[tuple[bytes, int, int]]:
    """(line, height, index) of every transaction line of a finished election, in bundle order."""
    genesis, chain, tally = finished_election(tokens=9, vote_blocks=2)
    items = []
    for raw in plain_lines(election_content(genesis, chain, tally)):
        line = raw.rstrip(b"\n")
        if TX_MARK in line:
            record = json.loads(line)
            items.append((line, record["height"], record["index"]))
    assert len(items) > 20
    return items


def reissued(line: bytes, **tx_fields: Any) -> bytes:
    """The line with some ``tx`` fields replaced and its stored id recomputed, so only later checks can fail."""
    record = json.loads(line)
    record["tx"].update(tx_fields)
    body = {k: v for k, v in record["tx"].items() if k != "sig"}
    record["id"] = hashlib.sha256(canonical.encode(body)).hexdigest()
    return canonical.encode(record)


def one_by_one(items: list[tuple[bytes, int, int]], impl: CryptoImpl) -> list[str | None]:
    verdicts: list[str | None] = []
    for item in items:
        try:
            check_tx_line(item, impl)
        except Invalid as exc:
            verdicts.append(exc.code)
        else:
            verdicts.append(None)
    return verdicts


def batched(items: list[tuple[bytes, int, int]], impl: CryptoImpl) -> tuple[list[str | None], list[Any]]:
    segments = [(height, index, 1) for _, height, index in items]
    good, failures = check_batch(b"\n".join(line for line, _, _ in items), segments, impl)
    verdicts: list[str | None] = [None] * len(items)
    for position, code, _message, field in failures:
        verdicts[position] = code
        assert field == "sig" or code not in SIGNATURE_CODES or field == "signer"
    assert [g is None for g in good] == [v is not None for v in verdicts]
    assert [f[0] for f in failures] == sorted(f[0] for f in failures)
    return verdicts, good


OFF_CURVE = "04" + "11" * 64  # x = y = 0x1111...: not a point of P-256 (checked below)


def mutate(line: bytes, kind: str, digit: int) -> bytes:
    record = json.loads(line)
    sig = record["tx"]["sig"]
    if kind == "sig-digit":  # the id does not cover the signature: only the equation can fail
        flipped = "0123456789abcdef"[(int(sig[digit % 128], 16) + 1) % 16]
        return reissued(line, sig=sig[:digit % 128] + flipped + sig[digit % 128 + 1:])
    if kind == "off-curve-signer":
        return reissued(line, signer=OFF_CURVE)
    if kind == "coordinate-above-p":
        return reissued(line, signer="04" + "ff" * 64)
    if kind == "high-s":
        s = int(sig[64:], 16)
        return reissued(line, sig=sig[:64] + format(signatures.N - s, "064x"))
    if kind == "stored-id":
        record["id"] = "0" * 64
        return canonical.encode(record)
    if kind == "not-canonical":
        return line.replace(b'{"height":', b'{ "height":', 1)
    raise AssertionError(kind)


KINDS = ["sig-digit", "off-curve-signer", "coordinate-above-p", "high-s", "stored-id", "not-canonical"]


def test_the_off_curve_constant_is_off_the_curve() -> None:
    assert not on_curve(int("11" * 32, 16), int("11" * 32, 16))


@pytest.mark.parametrize("impl", IMPLS)
def test_a_clean_batch_passes_like_each_line(block_lines: list[tuple[bytes, int, int]], impl: CryptoImpl) -> None:
    items = block_lines if impl == "cryptography" else block_lines[:8]
    verdicts, good = batched(items, impl)
    assert verdicts == one_by_one(items, impl) == [None] * len(items)
    assert [g[0].hex() for g in good if g is not None] == [json.loads(line)["id"] for line, _, _ in items]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_mutated_batches_get_the_verdict_of_each_line(block_lines: list[tuple[bytes, int, int]],
                                                      data: st.DataObject) -> None:
    items = list(block_lines)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(items) - 1))
        line, height, index = items[position]
        items[position] = (mutate(line, data.draw(st.sampled_from(KINDS)), data.draw(st.integers(0, 127))),
                           height, index)
    verdicts, _ = batched(items, "cryptography")
    assert verdicts == one_by_one(items, "cryptography")
    # Two mutations can cancel out (a high-S flip applied twice gives back the signature), so
    # only a batch that really differs from the chain must fail somewhere.
    if [line for line, _, _ in items] != [line for line, _, _ in block_lines]:
        assert any(v is not None for v in verdicts)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind,code", [("off-curve-signer", "public_key_invalid"),
                                       ("coordinate-above-p", "public_key_invalid"),
                                       ("sig-digit", "signature_invalid"), ("high-s", "signature_high_s")])
def test_each_backend_names_the_signature_failure(block_lines: list[tuple[bytes, int, int]], impl: CryptoImpl,
                                                  kind: str, code: str) -> None:
    line, height, index = block_lines[3]
    items = [block_lines[2], (mutate(line, kind, 5), height, index), block_lines[4]]
    segments = [(h, i, 1) for _, h, i in items]
    good, failures = check_batch(b"\n".join(item[0] for item in items), segments, impl)
    assert [(f[0], f[1], f[3]) for f in failures] == [(1, code, "sig")]
    assert good[0] is not None and good[1] is None and good[2] is not None


coordinates = st.integers(0, 2**256 - 1)


@settings(max_examples=200, deadline=None)
@given(coordinates, coordinates)
def test_openssl_refuses_exactly_the_keys_the_integer_check_refuses(x: int, y: int) -> None:
    key = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    try:
        signatures.check_public_key(key)
        own = None
    except Invalid as exc:
        own = exc.code
    verdicts = set()
    for impl in IMPLS:
        try:
            signatures.verify(key, (1).to_bytes(32, "big") * 2, b"m", impl)
        except Invalid as exc:
            verdicts.add(exc.code)
    assert own == "public_key_invalid"  # random coordinates are never on the curve
    assert verdicts == {"public_key_invalid"}


def small_point() -> tuple[int, int]:
    """A point of P-256 with a small x (p = 3 mod 4, so a square root is one power)."""
    x = 1
    while True:
        rhs = (x * x * x + A * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, y
        x += 1


@pytest.mark.parametrize("impl", IMPLS)
def test_a_real_point_with_x_shifted_by_p_is_refused(impl: CryptoImpl) -> None:
    """x + p names the same residue as x: only the range check stops it, in both backends."""
    x, y = small_point()
    assert on_curve(x, y) and on_curve(x + P, y)
    signatures.check_key_shape(b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"))
    key = b"\x04" + (x + P).to_bytes(32, "big") + y.to_bytes(32, "big")
    with pytest.raises(Invalid) as caught:
        signatures.verify(key, (1).to_bytes(32, "big") * 2, b"m", impl)
    assert caught.value.code == "public_key_invalid"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("key", [b"", b"\x04" + bytes(63), b"\x02" + bytes(64), b"\x04" + bytes(65)])
def test_keys_of_the_wrong_shape_are_refused(impl: CryptoImpl, key: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        signatures.verify(key, (1).to_bytes(32, "big") * 2, b"m", impl)
    assert caught.value.code == "public_key_invalid"
