"""Canonical JSON (docs/protocol.md section 1): the one byte form of every signed or hashed object.

``decode`` refuses anything that is not exactly ``encode(value)`` for a value of the model:
``encoding_invalid`` for bytes that are not a model value, ``encoding_not_canonical`` for a
model value written in another byte form. The fast path lets the C JSON parser do the work
and walks the value only when the raw bytes could hide a boolean or deep nesting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import Invalid

MAX_SAFE = 2**53 - 1
MAX_DEPTH = 32
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _direct_c_encoder() -> Callable[[Any], str] | None:
    """The C encoder that ``JSONEncoder.encode`` builds on every call, built once.

    The same bytes (separators, sort_keys, no ASCII escaping, no NaN) without the per-call
    set-up, which costs a few microseconds per transaction line. No circular-reference
    markers: every value encoded here is a tree (parsed JSON, or built by this package).
    None when this Python has no C accelerator or builds it differently (checked on a sample).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        iterencode = make(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    except TypeError:
        return None

    def dumps(value: Any) -> str:
        return "".join(iterencode(value, 0))

    sample: dict[str, Any] = {"b": [1, -(2**53 - 1), None, "\u00e9\"\\\u2028\x00", {"z": [], "y": {}}], "a": "x"}
    try:
        same = dumps(sample) == _ENCODER.encode(sample)
    except (TypeError, ValueError):
        return None
    return dumps if same else None


_dumps: Callable[[Any], str] = _direct_c_encoder() or _ENCODER.encode


def encode(value: Any) -> bytes:
    """The canonical bytes of a model value (checked: a non-model value raises ``encoding_invalid``)."""
    check_model(value)
    return _dumps(value).encode("utf-8")


def encode_unchecked(value: Any) -> bytes:
    """Canonical bytes of a value already known to be in the model (decoded or built here)."""
    return _dumps(value).encode("utf-8")


def _refuse(text: str) -> Any:
    raise Invalid("encoding_invalid", f"{text[:20]} is not allowed (no fractions, exponents, NaN or Infinity)")


def _is_valid_key(key: str) -> bool:
    return 1 <= len(key) <= 128 and all(" " <= ch <= "~" for ch in key)


# Integers are left to the C parser (a Python hook per integer costs more than the range
# check in ``_check_parsed``, which walks the value anyway); fractions and constants never
# reach a model value, so their hooks cost nothing on good input.
_decoder = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse, strict=True)
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
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
    """What the parser lets through: booleans, integers out of range, invalid keys, nesting (floats are hooked)."""
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
            elif kind is int and not -MAX_SAFE <= item <= MAX_SAFE:
                raise Invalid("encoding_invalid", "integer outside the safe range")
            elif kind is bool:
                raise Invalid("encoding_invalid", "true and false are not in the value model")
            elif depth + 1 > MAX_DEPTH:
                raise Invalid("encoding_invalid", f"nesting deeper than {MAX_DEPTH}")
    elif type(value) is list:
        for item in value:
            kind = type(item)
            if kind is dict or kind is list:
                _check_parsed(item, depth + 1)
            elif kind is int and not -MAX_SAFE <= item <= MAX_SAFE:
                raise Invalid("encoding_invalid", "integer outside the safe range")
            elif kind is bool:
                raise Invalid("encoding_invalid", "true and false are not in the value model")
            elif depth + 1 > MAX_DEPTH:
                raise Invalid("encoding_invalid", f"nesting deeper than {MAX_DEPTH}")
    elif type(value) is int:
        if not -MAX_SAFE <= value <= MAX_SAFE:
            raise Invalid("encoding_invalid", "integer outside the safe range")
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
        value, end = _scan(text, 0)  # the C scanner without the wrapper; exact fit only
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end != len(text):  # not one JSON value filling the line: let the full decoder say why
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
