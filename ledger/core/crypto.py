"""Keys, addresses and signatures: ECDSA over NIST P-256 with SHA-256.

Why P-256: browsers sign with it natively (WebCrypto), OpenSSL verifies it
fast, and the pure-Python ``ecdsa`` package reads the same keys, so an observer
can re-check every signature with code they can read line by line.

Wire forms (docs/protocol.md, "Keys and signatures"):
- public key: 65-byte SEC1 uncompressed point ``04 || X || Y``;
- signature: 64 bytes ``r || s`` big-endian, 1 <= r < n, 1 <= s <= n/2 (low S);
- address: first 20 bytes of SHA-256(public key).
Anything else is rejected with a typed error before any curve arithmetic.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Callable, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .errors import BadSignature, HighSSignature, InvalidPublicKey, InvalidSignatureEncoding

# Order of the P-256 base point.
CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HALF_ORDER = CURVE_ORDER // 2
PUBLIC_KEY_SIZE = 65
SIGNATURE_SIZE = 64
ADDRESS_SIZE = 20

CryptoImpl = Literal["openssl", "ecdsa"]
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_P256 = ec.SECP256R1()


def address_of(public_key: bytes) -> str:
    """The ledger address of a public key: hex of the first 20 bytes of its SHA-256."""
    return hashlib.sha256(public_key).digest()[:ADDRESS_SIZE].hex()


def split_signature(signature: bytes) -> tuple[int, int]:
    """Parse raw r||s strictly: exact length, both in range, S in the lower half."""
    if type(signature) is not bytes or len(signature) != SIGNATURE_SIZE:
        raise InvalidSignatureEncoding("signature must be exactly 64 bytes r||s")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not 0 < r < CURVE_ORDER or not 0 < s < CURVE_ORDER:
        raise InvalidSignatureEncoding("r and s must be in [1, n-1]")
    if s > HALF_ORDER:
        raise HighSSignature("s must be at most n/2 (low-S form)")
    return r, s


def join_signature(r: int, s: int) -> bytes:
    """Encode (r, s) as raw r||s, normalising S to the low half."""
    if s > HALF_ORDER:
        s = CURVE_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def validate_public_key_bytes(public_key: bytes) -> None:
    if type(public_key) is not bytes or len(public_key) != PUBLIC_KEY_SIZE or public_key[0] != 4:
        raise InvalidPublicKey("public key must be a 65-byte uncompressed P-256 point (04||X||Y)")


@lru_cache(maxsize=4096)
def _load_openssl_key(public_key: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_P256, public_key)
    except ValueError as exc:
        raise InvalidPublicKey("point is not on the P-256 curve") from exc


def load_public_key(public_key: bytes) -> ec.EllipticCurvePublicKey:
    """Decode and curve-check a public key (cached: validator keys recur)."""
    validate_public_key_bytes(public_key)
    return _load_openssl_key(public_key)


def _verify_openssl(public_key: bytes, signature: bytes, message: bytes) -> bool:
    r, s = split_signature(signature)
    key = load_public_key(public_key)
    try:
        key.verify(encode_dss_signature(r, s), message, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def _verify_ecdsa(public_key: bytes, signature: bytes, message: bytes) -> bool:
    import ecdsa  # type: ignore[import-untyped]  # lazily: only observers choose the pure-Python path

    split_signature(signature)
    validate_public_key_bytes(public_key)
    try:
        key = ecdsa.VerifyingKey.from_string(public_key, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    except (ecdsa.MalformedPointError, ValueError) as exc:
        raise InvalidPublicKey("point is not on the P-256 curve") from exc
    try:
        return bool(key.verify(signature, message, hashfunc=hashlib.sha256))
    except ecdsa.BadSignatureError:
        return False


_VERIFIERS: dict[str, Callable[[bytes, bytes, bytes], bool]] = {
    "openssl": _verify_openssl,
    "ecdsa": _verify_ecdsa,
}


def verify(public_key: bytes, signature: bytes, message: bytes, impl: CryptoImpl = "openssl") -> None:
    """Raise unless ``signature`` is a valid low-S signature of ``message``."""
    try:
        verifier = _VERIFIERS[impl]
    except KeyError:
        raise ValueError(f"unknown crypto implementation {impl!r}") from None
    if not verifier(public_key, signature, message):
        raise BadSignature("signature does not verify")


def is_valid_signature(public_key: bytes, signature: bytes, message: bytes, impl: CryptoImpl = "openssl") -> bool:
    try:
        verify(public_key, signature, message, impl)
    except (BadSignature, InvalidSignatureEncoding, InvalidPublicKey):
        return False
    return True


class PrivateKey:
    """A P-256 signing key. Never serialise one into the ledger or a log."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.public_key: bytes = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_secret(cls, secret: bytes) -> "PrivateKey":
        """Load a 32-byte big-endian scalar (the form printed on token cards)."""
        if len(secret) != 32:
            raise InvalidPublicKey("private scalar must be 32 bytes")
        value = int.from_bytes(secret, "big")
        if not 0 < value < CURVE_ORDER:
            raise InvalidPublicKey("private scalar out of range")
        return cls(ec.derive_private_key(value, ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes) -> "PrivateKey":
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise InvalidPublicKey("expected a P-256 private key")
        return cls(key)

    def secret_bytes(self) -> bytes:
        return self._key.private_numbers().private_value.to_bytes(32, "big")

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def address(self) -> str:
        return address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Sign with SHA-256 and return the low-S raw r||s form."""
        r, s = decode_dss_signature(self._key.sign(message, _ECDSA_SHA256))
        return join_signature(r, s)

    def __repr__(self) -> str:  # never show the secret
        return f"PrivateKey(address={self.address})"
