"""Canonical JSON (docs/protocol.md section 1): the one byte form of every signed or hashed object.

``decode`` refuses anything that is not exactly ``encode(value)`` for a value of the model:
``encoding_invalid`` for bytes that are not a model value, ``encoding_not_canonical`` for a
model value written in another byte form. The fast path lets the C JSON parser do the work
and walks the value only when the raw bytes could hide a boolean or deep nesting.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import Invalid

MAX_SAFE = 2**53 - 1
MAX_DEPTH = 32
_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def encode(value: Any) -> bytes:
    """The canonical bytes of a model value (checked: a non-model value raises ``encoding_invalid``)."""
    check_model(value)
    return _dumps(value).encode("utf-8")


def encode_unchecked(value: Any) -> bytes:
    """Canonical bytes of a value already known to be in the model (decoded or built here)."""
    return _dumps(value).encode("utf-8")


def _refuse(text: str) -> Any:
    raise Invalid("encoding_invalid", f"{text[:20]} is not allowed (no fractions, exponents, NaN or Infinity)")


def _parse_int(text: str) -> int:
    if len(text) > 17:
        raise Invalid("encoding_invalid", "integer outside the safe range")
    number = int(text)
    if not -MAX_SAFE <= number <= MAX_SAFE:
        raise Invalid("encoding_invalid", "integer outside the safe range")
    return number


def _is_valid_key(key: str) -> bool:
    return 1 <= len(key) <= 128 and all(" " <= ch <= "~" for ch in key)


_decoder = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse, parse_int=_parse_int, strict=True)
_GOOD_KEYS: set[str] = set()  # keys already found valid (the same few dozen recur on every line)


def check_model(value: Any, depth: int = 0) -> None:
    """Raise ``encoding_invalid`` unless the value is in the value model of section 1.1."""
    if depth > MAX_DEPTH:
        raise Invalid("encoding_invalid", f"nesting deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Invalid("encoding_invalid", "lone surrogate in a string") from exc
    elif kind is int:
        if not -MAX_SAFE <= value <= MAX_SAFE:
            raise Invalid("encoding_invalid", "integer outside the safe range")
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _is_valid_key(key):
                raise Invalid("encoding_invalid", f"invalid object key {str(key)[:40]!r}")
            check_model(item, depth + 1)
    elif kind is list:
        for item in value:
            check_model(item, depth + 1)
    elif value is not None:
        raise Invalid("encoding_invalid", f"{kind.__name__} is not in the value model")


def _check_parsed(value: Any, depth: int = 0) -> None:
    """What the parser lets through: booleans, invalid keys, nesting (integers and floats are hooked)."""
    if depth > MAX_DEPTH:
        raise Invalid("encoding_invalid", f"nesting deeper than {MAX_DEPTH}")
    if type(value) is dict:
        items = value.items()
        for key, item in items:
            if key not in _GOOD_KEYS:
                if not _is_valid_key(key):
                    raise Invalid("encoding_invalid", f"invalid object key {key[:40]!r}")
                if len(_GOOD_KEYS) < 4096:
                    _GOOD_KEYS.add(key)
            kind = type(item)
            if kind is dict or kind is list:
                _check_parsed(item, depth + 1)
            elif kind is bool:
                raise Invalid("encoding_invalid", "true and false are not in the value model")
            elif depth + 1 > MAX_DEPTH:
                raise Invalid("encoding_invalid", f"nesting deeper than {MAX_DEPTH}")
    elif type(value) is list:
        for item in value:
            kind = type(item)
            if kind is dict or kind is list:
                _check_parsed(item, depth + 1)
            elif kind is bool:
                raise Invalid("encoding_invalid", "true and false are not in the value model")
            elif depth + 1 > MAX_DEPTH:
                raise Invalid("encoding_invalid", f"nesting deeper than {MAX_DEPTH}")
    elif type(value) is bool:
        raise Invalid("encoding_invalid", "true and false are not in the value model")


def decode(raw: bytes) -> Any:
    """Parse canonical JSON bytes, or raise ``encoding_invalid`` / ``encoding_not_canonical``.

    A duplicated key collapses in the parsed dict, so the byte comparison rejects it
    (``encoding_not_canonical``, as section 1.3 allows).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("encoding_invalid", f"not UTF-8 at byte {exc.start}") from exc
    try:
        value = _decoder.decode(text)
    except (ValueError, RecursionError) as exc:
        raise Invalid("encoding_invalid", f"not JSON: {exc}") from exc
    _check_parsed(value)
    try:
        again = _dumps(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Invalid("encoding_invalid", "lone surrogate in a string") from exc
    if again != raw:
        raise Invalid("encoding_not_canonical", "the bytes are not the canonical encoding of their value")
    return value
