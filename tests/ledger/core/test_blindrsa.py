"""RSA blind signatures (ledger/core/blindrsa.py) against RFC 9474's own vectors, plus properties."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import blindrsa
from ledger.core.errors import (
    BlindingFailed,
    BlindSigningFailed,
    CredentialInvalid,
    CredentialKeyInvalid,
    LedgerError,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rfc9474.json"
PROPERTIES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def rfc_vectors() -> list[dict[str, Any]]:
    return list(json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"])


def rfc_cases() -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in rfc_vectors()]


def rfc_key(v: dict[str, Any]) -> rsa.RSAPrivateKey:
    p, q, n, e, d = (int(v[k], 16) for k in ("p", "q", "n", "e", "d"))
    if p * q != n:
        raise ValueError("vector key is inconsistent")
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p), public_numbers=rsa.RSAPublicNumbers(e, n)
    )
    return numbers.private_key()


@cache
def key(bits: int = 2048, label: str = "a") -> rsa.RSAPrivateKey:
    return blindrsa.generate_private_key(bits)


def issue(private_key: rsa.RSAPrivateKey, message: bytes, variant: blindrsa.Variant) -> tuple[bytes, bytes]:
    """Run the whole protocol; return (input_msg, signature)."""
    public = private_key.public_key()
    input_msg = blindrsa.prepare(variant, message)
    blinded = blindrsa.blind(public, input_msg, variant)
    blind_sig = blindrsa.blind_sign(private_key, blinded.blinded_msg)
    return input_msg, blindrsa.finalize(public, input_msg, blind_sig, blinded.inv, variant)


def test_every_rfc_variant_has_a_vector() -> None:
    assert {v["name"] for v in rfc_vectors()} == set(blindrsa.VARIANTS)


@pytest.mark.parametrize("vector", rfc_cases())
def test_rfc9474_vector_reproduces_every_step(vector: dict[str, Any]) -> None:
    variant = blindrsa.VARIANTS[vector["name"]]
    assert (variant.salt_size, int(variant.randomized)) == (vector["salt_length"], vector["randomized"])
    private_key = rfc_key(vector)
    public = private_key.public_key()
    msg = bytes.fromhex(vector["msg"])
    prefix = bytes.fromhex(vector["msg_prefix"]) or None
    input_msg = blindrsa.prepare(variant, msg, prefix)
    assert input_msg.hex() == vector["input_msg"]
    salt = bytes.fromhex(vector["salt"])
    if "encoded_msg" in vector:
        assert blindrsa.compute_pss_encoding(input_msg, public.key_size, salt).hex() == vector["encoded_msg"]
    n = public.public_numbers().n
    r = pow(int(vector["inv"], 16), -1, n)
    blinded = blindrsa.blind(public, input_msg, variant, salt=salt, r=r)
    assert blinded.blinded_msg.hex() == vector["blinded_msg"]
    assert int.from_bytes(blinded.inv, "big") == int(vector["inv"], 16)
    blind_sig = blindrsa.blind_sign(private_key, blinded.blinded_msg)
    assert blind_sig.hex() == vector["blind_sig"]
    sig = blindrsa.finalize(public, input_msg, blind_sig, blinded.inv, variant)
    assert sig.hex() == vector["sig"]
    blindrsa.verify(public, input_msg, sig, variant)


@pytest.mark.parametrize("vector", rfc_cases())
def test_rfc9474_signature_fails_with_a_changed_message(vector: dict[str, Any]) -> None:
    variant = blindrsa.VARIANTS[vector["name"]]
    public = rfc_key(vector).public_key()
    input_msg = bytearray.fromhex(vector["input_msg"])
    input_msg[-1] ^= 1
    with pytest.raises(CredentialInvalid):
        blindrsa.verify(public, bytes(input_msg), bytes.fromhex(vector["sig"]), variant)


@PROPERTIES
@given(message=st.binary(max_size=200), variant=st.sampled_from(sorted(blindrsa.VARIANTS)))
def test_blind_sign_finalize_round_trip_verifies(message: bytes, variant: str) -> None:
    chosen = blindrsa.VARIANTS[variant]
    input_msg, sig = issue(key(), message, chosen)
    blindrsa.verify(key().public_key(), input_msg, sig, chosen)
    if chosen.randomized:
        assert input_msg[blindrsa.PREFIX_SIZE:] == message and len(input_msg) == len(message) + 32
    else:
        assert input_msg == message


@PROPERTIES
@given(message=st.binary(max_size=100), other=st.binary(max_size=100))
def test_signature_on_a_different_message_fails(message: bytes, other: bytes) -> None:
    input_msg, sig = issue(key(), message, blindrsa.PSS_RANDOMIZED)
    forged_input = input_msg[: blindrsa.PREFIX_SIZE] + other
    if forged_input == input_msg:
        return
    with pytest.raises(CredentialInvalid):
        blindrsa.verify(key().public_key(), forged_input, sig, blindrsa.PSS_RANDOMIZED)


@PROPERTIES
@given(message=st.binary(max_size=100))
def test_signature_under_another_key_fails(message: bytes) -> None:
    input_msg, sig = issue(key(), message, blindrsa.PSS_RANDOMIZED)
    with pytest.raises(CredentialInvalid):
        blindrsa.verify(key(2048, "b").public_key(), input_msg, sig, blindrsa.PSS_RANDOMIZED)


@PROPERTIES
@given(message=st.binary(max_size=100), position=st.integers(min_value=0, max_value=255), bit=st.integers(0, 7))
def test_tampered_blinded_message_fails_to_finalize(message: bytes, position: int, bit: int) -> None:
    private_key, variant = key(), blindrsa.PSS_DETERMINISTIC
    public = private_key.public_key()
    input_msg = blindrsa.prepare(variant, message)
    blinded = blindrsa.blind(public, input_msg, variant)
    tampered = bytearray(blinded.blinded_msg)
    tampered[position] ^= 1 << bit
    try:
        blind_sig = blindrsa.blind_sign(private_key, bytes(tampered))
    except BlindSigningFailed:  # flipped above the modulus: the signer refuses it
        return
    with pytest.raises(CredentialInvalid):
        blindrsa.finalize(public, input_msg, blind_sig, blinded.inv, variant)


@PROPERTIES
@given(position=st.integers(min_value=0, max_value=255), bit=st.integers(0, 7))
def test_tampered_blind_signature_fails_to_finalize(position: int, bit: int) -> None:
    private_key, variant = key(), blindrsa.PSS_RANDOMIZED
    input_msg = blindrsa.prepare(variant, b"ballot")
    blinded = blindrsa.blind(private_key.public_key(), input_msg, variant)
    blind_sig = bytearray(blindrsa.blind_sign(private_key, blinded.blinded_msg))
    blind_sig[position] ^= 1 << bit
    with pytest.raises(CredentialInvalid):
        blindrsa.finalize(private_key.public_key(), input_msg, bytes(blind_sig), blinded.inv, variant)


def test_blinded_messages_of_the_same_message_are_unlinkable_values() -> None:
    public, variant = key().public_key(), blindrsa.PSS_DETERMINISTIC
    first = blindrsa.blind(public, b"same", variant)
    second = blindrsa.blind(public, b"same", variant)
    assert first.blinded_msg != second.blinded_msg and first.inv != second.inv


@pytest.mark.parametrize("blinded", [b"", bytes(255), bytes(257), b"\xff" * 256], ids=["empty", "short", "long", "not-below-n"])
def test_blind_sign_refuses_malformed_or_out_of_range_input(blinded: bytes) -> None:
    with pytest.raises(BlindSigningFailed):
        blindrsa.blind_sign(key(), blinded)


def test_blind_sign_refuses_a_value_equal_to_the_modulus() -> None:
    n = key().public_key().public_numbers().n
    with pytest.raises(BlindSigningFailed):
        blindrsa.blind_sign(key(), n.to_bytes(256, "big"))


def test_blind_sign_rejects_a_faulty_key_result() -> None:
    """The signer's own check (RFC 9474 section 4.3 step 4) catches a faulty private-key computation."""
    good = key().private_numbers()

    class Faulty:  # same key, but one CRT half-exponent is off by one (a fault-attack model)
        def public_key(self) -> rsa.RSAPublicKey:
            return key().public_key()

        def private_numbers(self) -> rsa.RSAPrivateNumbers:
            return rsa.RSAPrivateNumbers(p=good.p, q=good.q, d=good.d, dmp1=good.dmp1 + 1, dmq1=good.dmq1,
                                         iqmp=good.iqmp, public_numbers=good.public_numbers)

    blinded = blindrsa.blind(key().public_key(), b"x", blindrsa.PSS_DETERMINISTIC)
    with pytest.raises(BlindSigningFailed):
        blindrsa.blind_sign(Faulty(), blinded.blinded_msg)  # type: ignore[arg-type]


@pytest.mark.parametrize(("variant", "prefix"), [
    (blindrsa.PSS_RANDOMIZED, bytes(31)), (blindrsa.PSS_RANDOMIZED, bytes(33)), (blindrsa.PSS_DETERMINISTIC, bytes(32)),
])
def test_prepare_rejects_a_wrong_prefix(variant: blindrsa.Variant, prefix: bytes) -> None:
    with pytest.raises(BlindingFailed):
        blindrsa.prepare(variant, b"m", prefix)


def test_blind_rejects_a_wrong_salt_or_blinding_factor() -> None:
    public = key().public_key()
    with pytest.raises(BlindingFailed):
        blindrsa.blind(public, b"m", blindrsa.PSS_RANDOMIZED, salt=bytes(47))
    with pytest.raises(BlindingFailed):
        blindrsa.blind(public, b"m", blindrsa.PSSZERO_DETERMINISTIC, salt=bytes(1))
    with pytest.raises(BlindingFailed):
        blindrsa.blind(public, b"m", blindrsa.PSS_RANDOMIZED, r=public.public_numbers().n)


def test_finalize_rejects_wrong_sizes() -> None:
    public = key().public_key()
    blinded = blindrsa.blind(public, b"m", blindrsa.PSS_DETERMINISTIC)
    with pytest.raises(CredentialInvalid):
        blindrsa.finalize(public, b"m", bytes(255), blinded.inv, blindrsa.PSS_DETERMINISTIC)
    with pytest.raises(CredentialInvalid):
        blindrsa.verify(public, b"m", bytes(257), blindrsa.PSS_DETERMINISTIC)


def test_pss_and_psszero_signatures_do_not_cross_verify() -> None:
    input_msg, sig = issue(key(), b"m", blindrsa.PSS_DETERMINISTIC)
    with pytest.raises(CredentialInvalid):
        blindrsa.verify(key().public_key(), input_msg, sig, blindrsa.PSSZERO_DETERMINISTIC)


def test_load_public_key_round_trips_canonical_der() -> None:
    der = blindrsa.public_key_der(key().public_key())
    assert blindrsa.public_key_der(blindrsa.load_public_key(der)) == der


def _der_of(private_key: Any) -> bytes:
    return bytes(private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


@pytest.mark.parametrize("make", [
    pytest.param(lambda: b"", id="empty"),
    pytest.param(lambda: b"\x30\x03\x02\x01\x01", id="garbage"),
    pytest.param(lambda: _der_of(rsa.generate_private_key(public_exponent=65537, key_size=1024)), id="rsa-1024"),
    pytest.param(lambda: _der_of(rsa.generate_private_key(public_exponent=3, key_size=2048)), id="exponent-3"),
    pytest.param(lambda: blindrsa.public_key_der(key().public_key()) + b"\x00", id="trailing-byte"),
    pytest.param(lambda: _der_of(ec.generate_private_key(ec.SECP256R1())), id="p256"),
])
def test_load_public_key_rejects_unfit_keys(make: Any) -> None:
    with pytest.raises(CredentialKeyInvalid):
        blindrsa.load_public_key(make())


def test_generate_private_key_rejects_small_sizes() -> None:
    with pytest.raises(CredentialKeyInvalid):
        blindrsa.generate_private_key(1024)


def test_errors_are_typed_ledger_errors_with_stable_codes() -> None:
    codes = {cls.code for cls in (BlindingFailed, BlindSigningFailed, CredentialInvalid, CredentialKeyInvalid)}
    assert codes == {"blinding_failed", "blind_signing_failed", "credential_invalid", "credential_key_invalid"}
    assert all(issubclass(cls, LedgerError) for cls in (BlindingFailed, BlindSigningFailed, CredentialInvalid))


# --- the memo of verified inputs (blindrsa.verified_memo) -----------------------------------------


def test_a_verified_credential_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    private_key = key()
    variant = blindrsa.PSS_RANDOMIZED
    input_msg, signature = issue(private_key, b"memo", variant)
    blindrsa.verified_memo.clear()
    real_pss, calls = blindrsa._pss, []
    monkeypatch.setattr(blindrsa, "_pss", lambda v: calls.append(v) or real_pss(v))
    for _ in range(3):
        blindrsa.verify(private_key.public_key(), input_msg, signature, variant)
    assert len(calls) == 1  # one RSA verification, then the memo


def test_the_memo_never_turns_a_failure_into_a_success() -> None:
    """Only inputs that verified are remembered, and every input is part of the digest."""
    private_key, other = key(), key(2048, "b")
    variant = blindrsa.PSS_RANDOMIZED
    input_msg, signature = issue(private_key, b"memo-2", variant)
    blindrsa.verified_memo.clear()
    blindrsa.verify(private_key.public_key(), input_msg, signature, variant)  # remembered
    size = len(blindrsa.verified_memo)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    wrong = [
        (private_key.public_key(), input_msg, tampered, variant),
        (private_key.public_key(), input_msg[:-1] + bytes([input_msg[-1] ^ 1]), signature, variant),
        (other.public_key(), input_msg, signature, variant),
        (private_key.public_key(), input_msg, signature, blindrsa.PSSZERO_RANDOMIZED),
    ]
    for case in wrong * 2:  # twice: a failure is not remembered either
        with pytest.raises(CredentialInvalid):
            blindrsa.verify(*case)
    assert len(blindrsa.verified_memo) == size


@PROPERTIES
@given(flip=st.integers(min_value=0, max_value=8 * 48), warm=st.booleans())
def test_with_or_without_the_memo_the_outcome_is_the_same(flip: int, warm: bool) -> None:
    private_key = key()
    variant = blindrsa.PSS_RANDOMIZED
    input_msg, signature = issue(private_key, b"memo-3", variant)
    target = bytearray(input_msg + signature)
    if flip < 8 * 48:  # one bit of the message (38 bytes) or of the signature's first bytes; 384: untouched
        target[flip // 8] ^= 1 << (flip % 8)
    msg, sig = bytes(target[:len(input_msg)]), bytes(target[len(input_msg):])

    def outcome() -> bool:
        try:
            blindrsa.verify(private_key.public_key(), msg, sig, variant)
        except CredentialInvalid:
            return False
        return True

    blindrsa.verified_memo.clear()
    if warm:
        blindrsa.verify(private_key.public_key(), input_msg, signature, variant)
    cold = outcome()
    assert outcome() == cold  # second time: from the memo if it passed
    assert cold == (msg == input_msg and sig == signature)


def test_the_memo_is_bounded_and_forgets_the_oldest() -> None:
    memo = blindrsa._VerifiedMemo(3)
    for n in range(5):
        memo.add(bytes([n]) * 32)
    assert len(memo) == 3 and bytes([0]) * 32 not in memo and bytes([4]) * 32 in memo
