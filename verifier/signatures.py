"""P-256 keys and raw r||s ECDSA/SHA-256 signatures (docs/protocol.md section 3).

The structural checks (signature length, ranges, low S, the key's SEC1 shape and coordinate
range) are done here in plain integer arithmetic; the ECDSA equation is delegated, to one
of two independent implementations chosen by the observer: the pure-Python ``ecdsa``
package (every line readable) or ``cryptography`` (OpenSSL, fast). A bug in one is caught
by the other. Whether the point lies on the curve is checked here too on the ``ecdsa``
path; on the ``cryptography`` path OpenSSL's point decoding refuses an off-curve point
itself (mapped to the same ``public_key_invalid``), so the per-vote cost is not paid twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal

from .errors import Invalid

CryptoImpl = Literal["ecdsa", "cryptography"]
IMPLS: tuple[CryptoImpl, ...] = ("cryptography", "ecdsa")

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
HALF_N = (N - 1) // 2
P_BYTES = P.to_bytes(32, "big")  # big-endian bytes of equal length compare like the integers


def address_of(public_key: bytes) -> str:
    """First 20 bytes of SHA-256 of the 65-byte key, as 40 hex digits."""
    return hashlib.sha256(public_key).digest()[:20].hex()


def check_public_key(public_key: bytes) -> tuple[int, int]:
    """(x, y) of an uncompressed SEC1 P-256 key on the curve, else ``public_key_invalid``."""
    if len(public_key) != 65 or public_key[0] != 4:
        raise Invalid("public_key_invalid", "a public key is 65 bytes, 04 || X || Y")
    x = int.from_bytes(public_key[1:33], "big")
    y = int.from_bytes(public_key[33:], "big")
    if x >= P or y >= P or (y * y - (x * x * x + A * x + B)) % P != 0:
        raise Invalid("public_key_invalid", "the point is not on P-256")
    return x, y


def check_key_shape(public_key: bytes) -> None:
    """The SEC1 shape of a key without the curve equation: 65 bytes, 04 || X || Y, X and Y below p."""
    if len(public_key) != 65 or public_key[0] != 4:
        raise Invalid("public_key_invalid", "a public key is 65 bytes, 04 || X || Y")
    if public_key[1:33] >= P_BYTES or public_key[33:] >= P_BYTES:
        raise Invalid("public_key_invalid", "the point is not on P-256")


def check_signature_form(signature: bytes) -> tuple[int, int]:
    """(r, s) of a 64-byte low-S signature, else ``signature_malformed`` / ``signature_high_s``."""
    if len(signature) != 64:
        raise Invalid("signature_malformed", f"a signature is 64 bytes, not {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        raise Invalid("signature_malformed", "r and s must be in [1, n-1]")
    if s > HALF_N:
        raise Invalid("signature_high_s", "s is above (n-1)/2: signers must send the low-S form")
    return r, s


def _ecdsa_backend() -> Callable[[bytes, int, int, bytes], bool]:
    from ecdsa import NIST256p, VerifyingKey
    from ecdsa.keys import BadSignatureError
    from ecdsa.util import sigdecode_strings

    def check(public_key: bytes, r: int, s: int, message: bytes) -> bool:
        key = VerifyingKey.from_string(public_key, curve=NIST256p, hashfunc=hashlib.sha256, validate_point=False)
        try:
            return bool(key.verify((r.to_bytes(32, "big"), s.to_bytes(32, "big")), message,
                                   hashfunc=hashlib.sha256, sigdecode=sigdecode_strings))
        except BadSignatureError:
            return False

    return check


def _cryptography_backend() -> Callable[[bytes, int, int, bytes], bool]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    curve = ec.SECP256R1()
    algorithm = ec.ECDSA(hashes.SHA256())
    from_point = ec.EllipticCurvePublicKey.from_encoded_point

    def check(public_key: bytes, r: int, s: int, message: bytes) -> bool:
        try:
            key = from_point(curve, public_key)  # OpenSSL refuses a point that is not on the curve
        except ValueError as exc:
            raise Invalid("public_key_invalid", "the point is not on P-256") from exc
        try:
            key.verify(encode_dss_signature(r, s), message, algorithm)
        except InvalidSignature:
            return False
        return True

    return check


_BACKENDS: dict[str, Callable[[bytes, int, int, bytes], bool]] = {}


def backend(impl: CryptoImpl) -> Callable[[bytes, int, int, bytes], bool]:
    """The ECDSA equation check of one implementation (imported on first use)."""
    if impl not in _BACKENDS:
        if impl == "ecdsa":
            _BACKENDS[impl] = _ecdsa_backend()
        elif impl == "cryptography":
            _BACKENDS[impl] = _cryptography_backend()
        else:
            raise ValueError(f"unknown crypto implementation {impl!r}")
    return _BACKENDS[impl]


def verify(public_key: bytes, signature: bytes, message: bytes, impl: CryptoImpl) -> None:
    """Check a signature in the order of section 3; raise the first failing check's code."""
    r, s = check_signature_form(signature)
    if impl == "cryptography":
        check_key_shape(public_key)  # the backend's point decoding checks the curve equation
    else:
        check_public_key(public_key)
    if not backend(impl)(public_key, r, s, message):
        raise Invalid("signature_invalid", "the signature does not verify for this key and message")


def signature_error(public_key: bytes, signature: bytes, message: bytes, impl: CryptoImpl) -> tuple[str, str] | None:
    """(code, message) of a failing signature, or None when it verifies (for worker processes)."""
    try:
        verify(public_key, signature, message, impl)
    except Invalid as exc:
        return exc.code, exc.message
    return None
