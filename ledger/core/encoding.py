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
_KEY_RE = re.compile(r"^[\x20-\x7e]{1,128}\Z")
_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
# The same encoder without JSONEncoder.encode's per-call set-up (a new C encoder object
# and a circular-reference map on every call): about 1 us less per encoded object.
# Only values that passed _check (finite depth, no cycles) may reach it; the output is
# byte-identical to _encoder.encode (a test compares them).
def _make_fast_encoder() -> Any:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C encoder
        return None
    try:  # markers, default, encoder, indent, key_sep, item_sep, sort_keys, skipkeys, allow_nan
        return make(None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    except TypeError:  # pragma: no cover - a future signature: use the plain encoder
        return None


_fast_encode = _make_fast_encoder()


def _encode_text(value: Any) -> str:
    if _fast_encode is None:  # pragma: no cover - CPython always has the C encoder
        return _encoder.encode(value)
    return "".join(_fast_encode(value, 0))

JSONValue = Any


MAX_DEPTH = 32
# Object keys already found valid. Keys repeat in every transaction ("chain",
# "payload", ...), so a set lookup replaces the regex on the hot path. Bounded, and
# only valid keys enter it, so it cannot be used to make anything pass.
_VALID_KEYS: set[str] = set()
_VALID_KEYS_MAX = 4096


def _check_key(key: Any) -> None:
    if type(key) is not str or not _KEY_RE.match(key):
        raise EncodingError("object keys must be printable ASCII", key=repr(key)[:80])
    if len(_VALID_KEYS) < _VALID_KEYS_MAX:
        _VALID_KEYS.add(key)


def _check_int(value: int) -> None:
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise EncodingError("integer out of the safe range", value=str(value))


def _check(value: Any, depth: int = 0) -> None:
    """Raise unless ``value`` is in the canonical model; no value may sit below 32 containers.

    Strings, null and integers inside a container are checked inline rather than by a
    recursive call: this walk runs over every transaction, block and write-set.
    """
    if depth > MAX_DEPTH:
        raise EncodingError("nesting too deep")
    kind = type(value)
    if kind is dict:
        if value and depth == MAX_DEPTH:
            raise EncodingError("nesting too deep")
        valid_keys = _VALID_KEYS
        for key, item in value.items():
            if key not in valid_keys:
                _check_key(key)
            item_kind = type(item)
            if item_kind is str or item is None:
                continue
            if item_kind is int:
                _check_int(item)
                continue
            _check(item, depth + 1)
        return
    if kind is list or kind is tuple:
        if value and depth == MAX_DEPTH:
            raise EncodingError("nesting too deep")
        for item in value:
            item_kind = type(item)
            if item_kind is str or item is None:
                continue
            if item_kind is int:
                _check_int(item)
                continue
            _check(item, depth + 1)
        return
    if kind is str or value is None:
        return
    if kind is int:
        _check_int(value)
        return
    raise EncodingError(f"type {kind.__name__} is not allowed in canonical JSON")


def validate_canonical(value: JSONValue, depth: int = 0) -> None:
    """Raise EncodingError unless ``value`` (nested ``depth`` deep) can be canonically encoded."""
    _check(value, depth)


def encode(value: JSONValue) -> bytes:
    """Return the canonical bytes of ``value`` (raises EncodingError)."""
    _check(value)
    try:
        return _encode_text(value).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise EncodingError("string is not valid Unicode") from exc


def encode_unchecked(value: JSONValue) -> bytes:
    """Canonical bytes of a value the caller built from checked parts (hot path).

    ``validate_canonical`` must have passed; only a lone surrogate can still fail here
    (UnicodeEncodeError), which ``encode`` reports as EncodingError.
    """
    return _encode_text(value).encode("utf-8")


def _reject_float(text: str) -> Any:
    raise EncodingError("floating point numbers are not allowed", value=text[:40])


def _reject_constant(text: str) -> Any:
    raise EncodingError(f"{text} is not allowed")


# No duplicate-key hook: a duplicated key collapses in the parsed dict, so the
# re-encoding below can never equal the input and the bytes are rejected as not
# canonical (the same code the hook gave), without a Python call per object.
_decoder = json.JSONDecoder(parse_float=_reject_float, parse_constant=_reject_constant)


def parse(data: bytes) -> JSONValue:
    """Parse UTF-8 JSON without floats, NaN or Infinity; does NOT check canonical form.

    Callers must still compare a canonical re-encoding with ``data`` (``decode`` does,
    ``Block.from_bytes`` does it piecewise).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise EncodingError("expected bytes")
    try:
        return _decoder.decode(bytes(data).decode("utf-8"))
    except EncodingError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc


def decode(data: bytes) -> JSONValue:
    """Parse canonical bytes; anything that is not exactly canonical is rejected."""
    value = parse(data)
    if type(data) is not bytes:
        data = bytes(data)
    if encode(value) != data:
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
    if keys == required:  # the common case, without building difference sets
        return obj
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


def read_hex(obj: dict[str, Any], key: str, length: int) -> bytes:
    """Read lowercase hex of exactly ``length`` bytes."""
    value = obj[key]
    if type(value) is str and len(value) == 2 * length:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            # fromhex also takes upper case and whitespace: only the canonical spelling
            # of the bytes round-trips.
            if raw.hex() == value:
                return raw
    raise MalformedObject(f"{key} must be {2 * length} lowercase hex digits", field=key)
