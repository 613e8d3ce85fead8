"""Canonical JSON: the one byte form of every signed or hashed object.

Rules (docs/protocol.md, "Canonical encoding"): UTF-8; objects with keys
sorted by code point and no duplicates; no insignificant whitespace; values
are objects, arrays, strings, integers in [-(2**53-1), 2**53-1] and null;
no floats and no booleans (so every verifier, JavaScript included, reads the
same numbers). Decoding is strict: the input must re-encode to itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .errors import EncodingError, MalformedObject, NonCanonicalEncoding

MAX_SAFE_INT = 2**53 - 1
_KEY_RE = re.compile(r"^[\x20-\x7e]{1,128}$")
_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)

JSONValue = Any


def _check(value: Any, depth: int = 0) -> None:
    if depth > 32:
        raise EncodingError("nesting too deep")
    kind = type(value)
    if kind is str or value is None:
        return
    if kind is int:
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return
        raise EncodingError("integer out of the safe range", value=str(value))
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _KEY_RE.match(key):
                raise EncodingError("object keys must be printable ASCII", key=repr(key)[:80])
            _check(item, depth + 1)
        return
    if kind is list or kind is tuple:
        for item in value:
            _check(item, depth + 1)
        return
    raise EncodingError(f"type {kind.__name__} is not allowed in canonical JSON")


def encode(value: JSONValue) -> bytes:
    """Return the canonical bytes of ``value`` (raises EncodingError)."""
    _check(value)
    try:
        return _encoder.encode(value).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise EncodingError("string is not valid Unicode") from exc


def encode_unchecked(value: JSONValue) -> bytes:
    """Canonical bytes of a value the caller built from checked parts (hot path)."""
    return _encoder.encode(value).encode("utf-8")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise NonCanonicalEncoding("duplicate object key")
    return result


def _reject_float(text: str) -> Any:
    raise EncodingError("floating point numbers are not allowed", value=text[:40])


def _reject_constant(text: str) -> Any:
    raise EncodingError(f"{text} is not allowed")


_decoder = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_float=_reject_float, parse_constant=_reject_constant
)


def decode(data: bytes) -> JSONValue:
    """Parse canonical bytes; anything that is not exactly canonical is rejected."""
    if not isinstance(data, (bytes, bytearray)):
        raise EncodingError("expected bytes")
    try:
        text = bytes(data).decode("utf-8")
        value = _decoder.decode(text)
    except EncodingError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc
    if encode(value) != bytes(data):
        raise NonCanonicalEncoding("bytes are not in canonical form")
    return value


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash_object(value: JSONValue) -> bytes:
    return hashlib.sha256(encode(value)).digest()


# --- field readers used by every from_dict -------------------------------


def require_keys(obj: Any, required: frozenset[str], what: str, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Check that ``obj`` is an object with exactly the required (+optional) keys."""
    if type(obj) is not dict:
        raise MalformedObject(f"{what} must be an object", field=what)
    keys = obj.keys()
    missing = required - keys
    if missing:
        raise MalformedObject(f"{what} lacks {sorted(missing)}", field=sorted(missing)[0])
    extra = keys - required - optional
    if extra:
        raise MalformedObject(f"{what} has unknown fields {sorted(extra)}", field=sorted(extra)[0])
    return obj


def read_str(obj: dict[str, Any], key: str, *, pattern: re.Pattern[str] | None = None, max_len: int = 256) -> str:
    value = obj[key]
    if type(value) is not str or not value or len(value) > max_len:
        raise MalformedObject(f"{key} must be a non-empty string of at most {max_len} characters", field=key)
    if pattern is not None and not pattern.match(value):
        raise MalformedObject(f"{key} has an invalid format", field=key)
    return value


def read_int(obj: dict[str, Any], key: str, *, minimum: int = 0, maximum: int = MAX_SAFE_INT) -> int:
    value = obj[key]
    if type(value) is not int or not minimum <= value <= maximum:
        raise MalformedObject(f"{key} must be an integer in [{minimum}, {maximum}]", field=key)
    return value


_HEX_RE = re.compile(r"^[0-9a-f]*$")


def read_hex(obj: dict[str, Any], key: str, length: int) -> bytes:
    """Read lowercase hex of exactly ``length`` bytes."""
    value = obj[key]
    if type(value) is not str or len(value) != 2 * length or not _HEX_RE.match(value):
        raise MalformedObject(f"{key} must be {2 * length} lowercase hex digits", field=key)
    return bytes.fromhex(value)
