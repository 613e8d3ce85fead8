"""RSA blind signatures (RFC 9474, RSABSSA-SHA384-PSS/PSSZERO, Randomized/Deterministic).

Why: a mobile voter gets an anonymous vote credential. The election authority signs a
*blinded* message, so it never sees the message it signed (the voter's ledger address)
and cannot link the credential it issued to the address that later mints a vote unit.
The finished signature is an ordinary RSASSA-PSS signature (SHA-384, MGF1-SHA-384), so any
RSA-PSS verifier can check it.

Roles and steps (RFC 9474 section 4):
  client   input_msg = prepare(variant, msg)          (32-byte random prefix if Randomized)
  client   blinded = blind(public_key, input_msg, variant)      -> (blinded_msg, inv)
  signer   blind_sig = blind_sign(private_key, blinded_msg)     (checks m < n and the result)
  client   sig = finalize(public_key, input_msg, blind_sig, inv, variant)   (verifies)
  anyone   verify(public_key, input_msg, sig, variant)

The blind/sign/finalize arithmetic is plain Python integers (``cryptography`` has no raw RSA
primitive); ``cryptography`` holds and serialises the keys and does the final PSS check.
Python's ``pow`` is not constant time, so ``blind_sign`` blinds its input with a fresh
random factor before exponentiating (classic RSA base blinding against timing attacks).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import BlindingFailed, BlindSigningFailed, CredentialInvalid, CredentialKeyInvalid

HASH_SIZE = 48  # SHA-384
PREFIX_SIZE = 32  # RFC 9474 section 4.1: random prefix of the Randomized variants
PUBLIC_EXPONENT = 65537
MIN_MODULUS_BITS = 2048
MAX_MODULUS_BITS = 4096


@dataclass(frozen=True, slots=True)
class Variant:
    """One RSABSSA suite of RFC 9474 section 5: PSS salt length and message preparation."""

    name: str
    salt_size: int  # 48 (PSS) or 0 (PSSZERO)
    randomized: bool  # prepend a 32-byte random prefix to the message


PSS_RANDOMIZED = Variant("RSABSSA-SHA384-PSS-Randomized", HASH_SIZE, True)
PSSZERO_RANDOMIZED = Variant("RSABSSA-SHA384-PSSZERO-Randomized", 0, True)
PSS_DETERMINISTIC = Variant("RSABSSA-SHA384-PSS-Deterministic", HASH_SIZE, False)
PSSZERO_DETERMINISTIC = Variant("RSABSSA-SHA384-PSSZERO-Deterministic", 0, False)
VARIANTS = {v.name: v for v in (PSS_RANDOMIZED, PSSZERO_RANDOMIZED, PSS_DETERMINISTIC, PSSZERO_DETERMINISTIC)}


@dataclass(frozen=True, slots=True)
class Blinded:
    """What ``blind`` returns: the message for the signer and the secret inverse to keep."""

    blinded_msg: bytes
    inv: bytes


def _modulus_size(public_key: rsa.RSAPublicKey) -> int:
    return (public_key.key_size + 7) // 8


def _mgf1_sha384(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def compute_pss_encoding(message: bytes, modulus_bits: int, salt: bytes) -> bytes:
    """EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) with SHA-384 and MGF1-SHA-384, emBits = modBits - 1."""
    em_bits = modulus_bits - 1
    em_len = (em_bits + 7) // 8
    if em_len < HASH_SIZE + len(salt) + 2:
        raise BlindingFailed("modulus too small for PSS with this salt")
    m_hash = hashlib.sha384(message).digest()
    h = hashlib.sha384(bytes(8) + m_hash + salt).digest()
    db = bytes(em_len - len(salt) - HASH_SIZE - 2) + b"\x01" + salt
    masked = bytearray(a ^ b for a, b in zip(db, _mgf1_sha384(h, em_len - HASH_SIZE - 1)))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def prepare(variant: Variant, message: bytes, prefix: bytes | None = None) -> bytes:
    """RFC 9474 section 4.1: the input message, ``prefix || message`` for Randomized variants.

    ``prefix`` is for test vectors only; by default a fresh 32-byte random prefix is drawn.
    """
    if not variant.randomized:
        if prefix:
            raise BlindingFailed(f"{variant.name} takes no message prefix")
        return message
    if prefix is None:
        prefix = secrets.token_bytes(PREFIX_SIZE)
    if len(prefix) != PREFIX_SIZE:
        raise BlindingFailed(f"the message prefix must be {PREFIX_SIZE} bytes")
    return prefix + message


def blind(
    public_key: rsa.RSAPublicKey, input_msg: bytes, variant: Variant, *, salt: bytes | None = None, r: int | None = None
) -> Blinded:
    """RFC 9474 section 4.2 Blind. ``salt`` and ``r`` are injectable for test vectors only."""
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    if salt is None:
        salt = secrets.token_bytes(variant.salt_size)
    if len(salt) != variant.salt_size:
        raise BlindingFailed(f"{variant.name} needs a {variant.salt_size}-byte salt")
    m = int.from_bytes(compute_pss_encoding(input_msg, n.bit_length(), salt), "big")
    if math.gcd(m, n) != 1:
        raise BlindingFailed("the encoded message is not coprime with the modulus")
    if r is None:
        r = 1 + secrets.randbelow(n - 1)
    if not 1 <= r < n or math.gcd(r, n) != 1:
        raise BlindingFailed("the blinding factor is not invertible modulo n")
    size = _modulus_size(public_key)
    z = m * pow(r, e, n) % n
    return Blinded(z.to_bytes(size, "big"), pow(r, -1, n).to_bytes(size, "big"))


def _rsasp1(private_key: rsa.RSAPrivateKey, m: int) -> int:
    """m^d mod n by the Chinese remainder theorem (RFC 8017 section 5.2.1, second form)."""
    numbers = private_key.private_numbers()
    p, q = numbers.p, numbers.q
    s1 = pow(m % p, numbers.dmp1, p)
    s2 = pow(m % q, numbers.dmq1, q)
    return s2 + q * ((s1 - s2) * numbers.iqmp % p)


def blind_sign(private_key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 section 4.3 BlindSign: checks the size, m < n, and that the result verifies."""
    public = private_key.public_key().public_numbers()
    n, e = public.n, public.e
    size = _modulus_size(private_key.public_key())
    if type(blinded_msg) is not bytes or len(blinded_msg) != size:
        raise BlindSigningFailed(f"the blinded message must be {size} bytes")
    m = int.from_bytes(blinded_msg, "big")
    if m >= n:
        raise BlindSigningFailed("message representative out of range")
    # Base blinding: Python's pow is not constant time, so never exponentiate the client's value.
    u = 1 + secrets.randbelow(n - 1)
    s = _rsasp1(private_key, m * pow(u, e, n) % n) * pow(u, -1, n) % n
    if pow(s, e, n) != m:
        raise BlindSigningFailed("signing failure: the blind signature does not verify")
    return s.to_bytes(size, "big")


def _pss(variant: Variant) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=variant.salt_size)


VERIFIED_MEMO_SIZE = 131_072  # > the default mempool (50,000): a mempool rebuild hits it for every credential


class _VerifiedMemo:
    """Digests of (key, variant, message, signature) that verified: a bounded FIFO set, thread-safe.

    Why: a node re-executes its pending transactions on the new state after some commits
    (``ledger.node.mempool``), and executes each transaction again when it validates and
    commits the block holding it; a credential mint was RSA-verified every time. Under the
    load campaign's backlog (30,000+ pending) that was a quarter of the state thread's time,
    so commits slowed as the backlog grew. Verification is a pure function of its inputs, so
    remembering the inputs that passed changes no outcome: a different key, message,
    signature or variant is a different digest, and a failure is never remembered.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: dict[bytes, None] = {}
        self._lock = threading.Lock()

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._seen

    def add(self, digest: bytes) -> None:
        with self._lock:
            self._seen[digest] = None
            while len(self._seen) > self.size:
                del self._seen[next(iter(self._seen))]

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)


verified_memo = _VerifiedMemo(VERIFIED_MEMO_SIZE)


def _verify_digest(public_key: rsa.RSAPublicKey, input_msg: bytes, signature: bytes, variant: Variant) -> bytes:
    numbers = public_key.public_numbers()
    h = hashlib.sha256()
    for part in (numbers.n.to_bytes(_modulus_size(public_key), "big"), numbers.e.to_bytes(4, "big"),
                 variant.name.encode(), variant.salt_size.to_bytes(2, "big"), len(input_msg).to_bytes(4, "big"), input_msg, signature):
        h.update(part)
    return h.digest()


def verify(public_key: rsa.RSAPublicKey, input_msg: bytes, signature: bytes, variant: Variant) -> None:
    """RSASSA-PSS-VERIFY of the finished signature over ``input_msg``; raises CredentialInvalid.

    Inputs that verified before are not verified again (``verified_memo``)."""
    if type(signature) is not bytes or len(signature) != _modulus_size(public_key):
        raise CredentialInvalid("the signature has the wrong length")
    digest = _verify_digest(public_key, input_msg, signature, variant)
    if digest in verified_memo:
        return
    try:
        public_key.verify(signature, input_msg, _pss(variant), hashes.SHA384())
    except InvalidSignature as exc:
        raise CredentialInvalid("the blind signature does not verify") from exc
    verified_memo.add(digest)


def finalize(
    public_key: rsa.RSAPublicKey, input_msg: bytes, blind_sig: bytes, inv: bytes, variant: Variant
) -> bytes:
    """RFC 9474 section 4.4 Finalize: unblind, then verify before returning the signature."""
    size = _modulus_size(public_key)
    if type(blind_sig) is not bytes or len(blind_sig) != size or type(inv) is not bytes or len(inv) != size:
        raise CredentialInvalid(f"blind signature and inverse must be {size} bytes")
    n = public_key.public_numbers().n
    signature = (int.from_bytes(blind_sig, "big") * int.from_bytes(inv, "big") % n).to_bytes(size, "big")
    verify(public_key, input_msg, signature, variant)
    return signature


# --- keys ---------------------------------------------------------------------------


def validate_public_key(public_key: rsa.RSAPublicKey) -> None:
    """Raise CredentialKeyInvalid unless the key is 2048..4096 bits with e = 65537."""
    if not MIN_MODULUS_BITS <= public_key.key_size <= MAX_MODULUS_BITS:
        raise CredentialKeyInvalid(
            f"the RSA modulus must have {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} bits", bits=public_key.key_size
        )
    if public_key.public_numbers().e != PUBLIC_EXPONENT:
        raise CredentialKeyInvalid(f"the RSA public exponent must be {PUBLIC_EXPONENT}")


def load_public_key(spki_der: bytes) -> rsa.RSAPublicKey:
    """Parse a DER SubjectPublicKeyInfo RSA key strictly: it must re-encode to the same bytes."""
    try:
        key = serialization.load_der_public_key(spki_der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CredentialKeyInvalid("not a DER SubjectPublicKeyInfo public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise CredentialKeyInvalid("the credential key must be an RSA key")
    validate_public_key(key)
    if public_key_der(key) != spki_der:
        raise CredentialKeyInvalid("the key is not in canonical DER form")
    return key


def public_key_der(public_key: rsa.RSAPublicKey) -> bytes:
    """DER SubjectPublicKeyInfo bytes of a public key (the on-chain form)."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh signing key for an election authority (e = 65537)."""
    if not MIN_MODULUS_BITS <= bits <= MAX_MODULUS_BITS:
        raise CredentialKeyInvalid(f"the RSA modulus must have {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} bits")
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
