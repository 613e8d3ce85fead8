"""RSA credential checks in plain integers (docs/protocol.md sections 10.2 and 10.10).

The election's credential key is a DER SubjectPublicKeyInfo; it is accepted only when it
is exactly the canonical DER of an rsaEncryption key with a 2048..4096-bit modulus and
e = 65537, so this module rebuilds that DER from (n, e) and compares bytes instead of
trusting a lenient parser. RSASSA-PSS-VERIFY (RFC 8017 9.1.2, SHA-384, MGF1-SHA-384, salt
48) is written out so an observer can read all of it; no crypto package is involved.
"""

from __future__ import annotations

import hashlib

RSA_OID = bytes.fromhex("2a864886f70d010101")
SALT_LENGTH = 48
HASH_LENGTH = 48


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return _der(0x02, body)


def spki_der(n: int, e: int) -> bytes:
    """The canonical DER SubjectPublicKeyInfo of an RSA public key."""
    algorithm = _der(0x30, _der(0x06, RSA_OID) + b"\x05\x00")
    key = _der(0x30, _der_integer(n) + _der_integer(e))
    return _der(0x30, algorithm + _der(0x03, b"\x00" + key))


def _read(data: bytes, offset: int, tag: int) -> tuple[bytes, int]:
    """(body, next offset) of the DER element of ``tag`` at ``offset``; ValueError if it is not one."""
    if offset + 2 > len(data) or data[offset] != tag:
        raise ValueError("unexpected DER tag")
    first = data[offset + 1]
    offset += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    else:
        length = first
    if offset + length > len(data):
        raise ValueError("DER element runs past the end")
    return data[offset:offset + length], offset + length


def parse_credential_key(der: bytes) -> tuple[int, int]:
    """(n, e) of a valid credential key, else ValueError with the reason."""
    outer, end = _read(der, 0, 0x30)
    if end != len(der):
        raise ValueError("bytes after the key")
    algorithm, offset = _read(outer, 0, 0x30)
    bits, _ = _read(outer, offset, 0x03)
    oid, _ = _read(algorithm, 0, 0x06)
    if oid != RSA_OID:
        raise ValueError("not an rsaEncryption key")
    if not bits or bits[0] != 0:
        raise ValueError("bit string with unused bits")
    sequence, _ = _read(bits, 1, 0x30)
    n_bytes, offset = _read(sequence, 0, 0x02)
    e_bytes, _ = _read(sequence, offset, 0x02)
    n = int.from_bytes(n_bytes, "big")
    e = int.from_bytes(e_bytes, "big")
    if not 2048 <= n.bit_length() <= 4096:
        raise ValueError("the modulus must have 2048 to 4096 bits")
    if e != 65537:
        raise ValueError("the public exponent must be 65537")
    if spki_der(n, e) != der:
        raise ValueError("not the canonical DER encoding of the key")
    return n, e


def _mgf1(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def pss_verify(n: int, e: int, message: bytes, signature: bytes) -> bool:
    """RSASSA-PSS-VERIFY with SHA-384, MGF1-SHA-384 and a 48-byte salt."""
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em_bits = n.bit_length() - 1
    em_length = (em_bits + 7) // 8
    m = pow(s, e, n)
    if m.bit_length() > em_length * 8:
        return False
    em = m.to_bytes(em_length, "big")
    if em_length < HASH_LENGTH + SALT_LENGTH + 2 or em[-1] != 0xBC:
        return False
    masked_db, digest = em[:em_length - HASH_LENGTH - 1], em[em_length - HASH_LENGTH - 1:-1]
    unused_bits = 8 * em_length - em_bits
    if masked_db[0] >> (8 - unused_bits) if unused_bits else 0:
        return False
    db = bytearray(a ^ b for a, b in zip(masked_db, _mgf1(digest, len(masked_db))))
    if unused_bits:
        db[0] &= 0xFF >> unused_bits
    padding = em_length - HASH_LENGTH - SALT_LENGTH - 2
    if any(db[:padding]) or db[padding] != 0x01:
        return False
    salt = bytes(db[-SALT_LENGTH:])
    expected = hashlib.sha384(b"\x00" * 8 + hashlib.sha384(message).digest() + salt).digest()
    return expected == digest
