"""P-256 keys and signatures: strict wire forms, low S, both implementations agree."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import ecdsa
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from ecdsa.util import sigencode_string, sigencode_string_canonize

from ledger.core import crypto
from ledger.core.crypto import CURVE_ORDER, HALF_ORDER
from ledger.core.errors import (
    BadSignature,
    CryptoError,
    HighSSignature,
    InvalidPublicKey,
    InvalidSignatureEncoding,
)

from .factory import key_for

IMPLS = ["openssl", "ecdsa"]
P256_PRIME = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
MESSAGE = b"EVOTE-TX-V1:" + bytes(range(32))

KEY = key_for("crypto-test")
OTHER_KEY = key_for("crypto-test-other")


def _low_s_signature() -> bytes:
    sig = KEY.sign(MESSAGE)
    assert int.from_bytes(sig[32:], "big") <= HALF_ORDER
    return sig


SIG = _low_s_signature()
R = int.from_bytes(SIG[:32], "big")
S = int.from_bytes(SIG[32:], "big")


def _raw(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _small_x_point() -> bytes:
    """A P-256 point with a tiny X, to build an encoding with X + p (same point mod p)."""
    for x in range(1, 100):
        rhs = (x**3 - 3 * x + P256_B) % P256_PRIME
        y = pow(rhs, (P256_PRIME + 1) // 4, P256_PRIME)
        if y * y % P256_PRIME == rhs:
            return b"\x04" + (x + P256_PRIME).to_bytes(32, "big") + y.to_bytes(32, "big")
    raise AssertionError("no point found")


def _secp256k1_point() -> bytes:
    point = ecdsa.SigningKey.from_secret_exponent(12345, curve=ecdsa.SECP256k1).get_verifying_key()
    return point.to_string("uncompressed")


_x = KEY.public_key[1:33]
_y = int.from_bytes(KEY.public_key[33:], "big")
_compressed = bytes([2 + (_y & 1)]) + _x

SIGNATURE_CASES = [
    # (label, public key, signature, message, expected error or None)
    pytest.param(KEY.public_key, SIG, MESSAGE, None, id="valid-low-s"),
    pytest.param(KEY.public_key, _raw(0, S), MESSAGE, InvalidSignatureEncoding, id="r-zero"),
    pytest.param(KEY.public_key, _raw(R, 0), MESSAGE, InvalidSignatureEncoding, id="s-zero"),
    pytest.param(KEY.public_key, _raw(CURVE_ORDER, S), MESSAGE, InvalidSignatureEncoding, id="r-equals-n"),
    pytest.param(KEY.public_key, _raw(R + CURVE_ORDER, S) if R + CURVE_ORDER < 2**256 else _raw(2**256 - 1, S),
                 MESSAGE, InvalidSignatureEncoding, id="r-above-n"),
    pytest.param(KEY.public_key, _raw(R, CURVE_ORDER), MESSAGE, InvalidSignatureEncoding, id="s-equals-n"),
    pytest.param(KEY.public_key, _raw(R, 2**256 - 1), MESSAGE, InvalidSignatureEncoding, id="s-above-n"),
    pytest.param(KEY.public_key, _raw(R, CURVE_ORDER - S), MESSAGE, HighSSignature, id="high-s-of-valid-signature"),
    pytest.param(KEY.public_key, _raw(R, HALF_ORDER + 1), MESSAGE, HighSSignature, id="s-just-above-half"),
    pytest.param(KEY.public_key, _raw(R, HALF_ORDER), MESSAGE, BadSignature, id="s-at-half-well-formed-but-wrong"),
    pytest.param(KEY.public_key, SIG[:63], MESSAGE, InvalidSignatureEncoding, id="truncated"),
    pytest.param(KEY.public_key, SIG + b"\x00", MESSAGE, InvalidSignatureEncoding, id="extended"),
    pytest.param(KEY.public_key, b"", MESSAGE, InvalidSignatureEncoding, id="empty"),
    pytest.param(KEY.public_key, encode_dss_signature(R, S), MESSAGE, InvalidSignatureEncoding, id="der-encoded"),
    pytest.param(KEY.public_key, bytearray(SIG), MESSAGE, InvalidSignatureEncoding, id="bytearray-not-bytes"),
    pytest.param(KEY.public_key, _raw(R ^ 1, S), MESSAGE, BadSignature, id="r-bit-flipped"),
    pytest.param(KEY.public_key, _raw(R, S ^ 1), MESSAGE, BadSignature, id="s-bit-flipped"),
    pytest.param(KEY.public_key, SIG, MESSAGE + b"x", BadSignature, id="other-message"),
    pytest.param(OTHER_KEY.public_key, SIG, MESSAGE, BadSignature, id="other-key"),
    pytest.param(_compressed, SIG, MESSAGE, InvalidPublicKey, id="compressed-key"),
    pytest.param(b"\x06" + KEY.public_key[1:], SIG, MESSAGE, InvalidPublicKey, id="hybrid-key-06"),
    pytest.param(b"\x07" + KEY.public_key[1:], SIG, MESSAGE, InvalidPublicKey, id="hybrid-key-07"),
    pytest.param(KEY.public_key[1:], SIG, MESSAGE, InvalidPublicKey, id="raw-64-byte-key"),
    pytest.param(b"\x00", SIG, MESSAGE, InvalidPublicKey, id="point-at-infinity"),
    pytest.param(b"", SIG, MESSAGE, InvalidPublicKey, id="empty-key"),
    pytest.param(b"\x04" + b"\x11" * 64, SIG, MESSAGE, InvalidPublicKey, id="garbage-key"),
    pytest.param(b"\x04" + bytes(64), SIG, MESSAGE, InvalidPublicKey, id="all-zero-key"),
    pytest.param(KEY.public_key[:33] + (_y + 1).to_bytes(32, "big"), SIG, MESSAGE, InvalidPublicKey, id="off-curve-y+1"),
    pytest.param(_small_x_point(), SIG, MESSAGE, InvalidPublicKey, id="coordinate-not-reduced-mod-p"),
    pytest.param(_secp256k1_point(), SIG, MESSAGE, InvalidPublicKey, id="secp256k1-point"),
    pytest.param(KEY.public_key + b"\x00", SIG, MESSAGE, InvalidPublicKey, id="key-with-trailing-byte"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("public_key", "signature", "message", "error"), SIGNATURE_CASES)
def test_verify_accepts_only_strict_low_s_signatures(
    impl: crypto.CryptoImpl, public_key: bytes, signature: bytes, message: bytes, error: type[CryptoError] | None
) -> None:
    if error is None:
        crypto.verify(public_key, signature, message, impl)
        assert crypto.is_valid_signature(public_key, signature, message, impl)
        return
    with pytest.raises(error) as info:
        crypto.verify(public_key, signature, message, impl)
    assert type(info.value) is error, f"expected exactly {error.__name__}, got {type(info.value).__name__}"
    assert not crypto.is_valid_signature(public_key, signature, message, impl)


def test_high_s_flip_is_rejected_while_the_low_s_original_verifies() -> None:
    high = _raw(R, CURVE_ORDER - S)
    crypto.verify(KEY.public_key, SIG, MESSAGE)
    with pytest.raises(HighSSignature) as info:
        crypto.verify(KEY.public_key, high, MESSAGE)
    assert info.value.code == "signature_high_s"
    # The flipped signature is mathematically valid: a lax verifier would take it.
    KEY._key.public_key().verify(encode_dss_signature(R, CURVE_ORDER - S), MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_verify_rejects_an_unknown_implementation() -> None:
    with pytest.raises(ValueError):
        crypto.verify(KEY.public_key, SIG, MESSAGE, "nacl")  # type: ignore[arg-type]


@pytest.mark.parametrize("impl", IMPLS)
def test_every_signature_made_by_private_key_is_low_s_and_verifies(impl: crypto.CryptoImpl) -> None:
    for i in range(64 if impl == "openssl" else 8):
        message = MESSAGE + bytes([i])
        sig = KEY.sign(message)
        assert len(sig) == 64 and int.from_bytes(sig[32:], "big") <= HALF_ORDER
        crypto.verify(KEY.public_key, sig, message, impl)


def test_join_signature_normalises_high_s() -> None:
    assert crypto.join_signature(R, CURVE_ORDER - S) == SIG
    assert crypto.join_signature(R, S) == SIG
    assert crypto.split_signature(SIG) == (R, S)


# --- interoperability ------------------------------------------------------------------

def _ecdsa_signing_key(key: crypto.PrivateKey) -> ecdsa.SigningKey:
    return ecdsa.SigningKey.from_string(key.secret_bytes(), curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)


@pytest.mark.parametrize("impl", IMPLS)
def test_signature_made_by_ecdsa_package_verifies_after_low_s_normalisation(impl: crypto.CryptoImpl) -> None:
    signing_key = _ecdsa_signing_key(KEY)
    assert signing_key.get_verifying_key().to_string("uncompressed") == KEY.public_key
    for i in range(6):
        message = MESSAGE + bytes([i])
        sig = signing_key.sign(message, hashfunc=hashlib.sha256, sigencode=sigencode_string_canonize)
        crypto.verify(KEY.public_key, sig, message, impl)
        # ...and the cryptography package accepts it as well.
        r, s = crypto.split_signature(sig)
        KEY._key.public_key().verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))


def test_signature_made_by_cryptography_verifies_with_the_ecdsa_package() -> None:
    verifying_key = ecdsa.VerifyingKey.from_string(KEY.public_key, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    for i in range(6):
        message = MESSAGE + bytes([i])
        r, s = decode_dss_signature(KEY._key.sign(message, ec.ECDSA(hashes.SHA256())))
        raw = crypto.join_signature(r, s)
        assert verifying_key.verify(raw, message, hashfunc=hashlib.sha256)
        crypto.verify(KEY.public_key, raw, message, "ecdsa")


# RFC 6979 appendix A.2.5 (P-256, SHA-256): deterministic signatures in the raw r||s
# (IEEE P1363) form that WebCrypto's ECDSA sign() returns. "sample" has a high S, as a
# browser signature does about half the time; the signer must send n - s instead.
RFC6979_PUBLIC_KEY = bytes.fromhex(
    "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"
)
RFC6979_SAMPLE = bytes.fromhex(
    "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
)
RFC6979_TEST = bytes.fromhex(
    "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
    "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"
)


@pytest.mark.parametrize("impl", IMPLS)
def test_webcrypto_style_low_s_signature_verifies(impl: crypto.CryptoImpl) -> None:
    crypto.verify(RFC6979_PUBLIC_KEY, RFC6979_TEST, b"test", impl)


@pytest.mark.parametrize("impl", IMPLS)
def test_webcrypto_style_high_s_signature_verifies_only_once_normalised(impl: crypto.CryptoImpl) -> None:
    with pytest.raises(HighSSignature):
        crypto.verify(RFC6979_PUBLIC_KEY, RFC6979_SAMPLE, b"sample", impl)
    r, s = int.from_bytes(RFC6979_SAMPLE[:32], "big"), int.from_bytes(RFC6979_SAMPLE[32:], "big")
    crypto.verify(RFC6979_PUBLIC_KEY, crypto.join_signature(r, s), b"sample", impl)


def test_rfc6979_vectors_match_the_ecdsa_package() -> None:
    """Guards the hard-coded vectors above against typos."""
    signing_key = ecdsa.SigningKey.from_secret_exponent(
        0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721, curve=ecdsa.NIST256p,
        hashfunc=hashlib.sha256,
    )
    assert signing_key.get_verifying_key().to_string("uncompressed") == RFC6979_PUBLIC_KEY
    sign: Callable[[bytes], bytes] = lambda m: signing_key.sign_deterministic(  # noqa: E731
        m, hashfunc=hashlib.sha256, sigencode=sigencode_string
    )
    assert sign(b"sample") == RFC6979_SAMPLE
    assert sign(b"test") == RFC6979_TEST


# --- keys and addresses ----------------------------------------------------------------

def test_address_is_the_first_20_bytes_of_sha256_of_the_public_key() -> None:
    assert KEY.address == hashlib.sha256(KEY.public_key).hexdigest()[:40]
    assert crypto.address_of(KEY.public_key) == KEY.address


def test_private_key_round_trips_through_secret_and_pem() -> None:
    assert crypto.PrivateKey.from_secret(KEY.secret_bytes()).public_key == KEY.public_key
    assert crypto.PrivateKey.from_pem(KEY.to_pem()).public_key == KEY.public_key
    assert len(KEY.public_key) == 65 and KEY.public_key[0] == 4


@pytest.mark.parametrize(
    "secret", [bytes(32), CURVE_ORDER.to_bytes(32, "big"), b"\xff" * 32, b"\x01" * 31, b"\x01" * 33],
    ids=["zero", "n", "above-n", "short", "long"],
)
def test_private_key_rejects_out_of_range_scalars(secret: bytes) -> None:
    with pytest.raises(CryptoError):
        crypto.PrivateKey.from_secret(secret)


def test_private_key_from_pem_rejects_other_curves() -> None:
    from cryptography.hazmat.primitives import serialization

    pem = ec.generate_private_key(ec.SECP256K1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidPublicKey):
        crypto.PrivateKey.from_pem(pem)


def test_private_key_repr_never_shows_the_secret() -> None:
    assert KEY.secret_bytes().hex() not in repr(KEY)
    assert KEY.address in repr(KEY)


@pytest.mark.parametrize("impl", IMPLS)
def test_verify_after_a_rejected_key_still_works(impl: crypto.CryptoImpl) -> None:
    """A failed key load must not poison any cache."""
    with pytest.raises(InvalidPublicKey):
        crypto.verify(b"\x04" + b"\x11" * 64, SIG, MESSAGE, impl)
    crypto.verify(KEY.public_key, SIG, MESSAGE, impl)
