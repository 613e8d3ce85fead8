"""Canonical JSON: one byte form per value, strict decoding, round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from ledger.core.encoding import (
    MAX_SAFE_INT,
    decode,
    encode,
    encode_unchecked,
    hash_object,
    read_hex,
    read_int,
    read_str,
    require_keys,
)
from ledger.core.errors import EncodingError, MalformedObject, NonCanonicalEncoding
from ledger.core.tx import IDENT_RE

from .strategies import json_values


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


VALID = [
    pytest.param(None, b"null", id="null"),
    pytest.param(0, b"0", id="zero"),
    pytest.param(-1, b"-1", id="negative"),
    pytest.param(MAX_SAFE_INT, b"9007199254740991", id="max-safe-int"),
    pytest.param(-MAX_SAFE_INT, b"-9007199254740991", id="min-safe-int"),
    pytest.param("", b'""', id="empty-string"),
    pytest.param([], b"[]", id="empty-array"),
    pytest.param({}, b"{}", id="empty-object"),
    pytest.param({"b": 1, "a": [1, None, "x"]}, b'{"a":[1,null,"x"],"b":1}', id="keys-sorted-no-whitespace"),
    pytest.param({"B": 1, "a": 2, "_": 3, " ": 4}, b'{" ":4,"B":1,"_":3,"a":2}', id="keys-sorted-by-code-point"),
    pytest.param({"a": {"d": 1, "c": 2}}, b'{"a":{"c":2,"d":1}}', id="nested-objects-sorted"),
    pytest.param("\u00e9\u4e2d\U0001f600", "\"\u00e9\u4e2d\U0001f600\"".encode(), id="non-ascii-raw-utf8"),
    pytest.param('"\\/', b'"\\"\\\\/"', id="quote-backslash-escaped-slash-not"),
    pytest.param("\b\f\n\r\t", b'"\\b\\f\\n\\r\\t"', id="short-escapes"),
    pytest.param("\x00\x01\x1f", b'"\\u0000\\u0001\\u001f"', id="control-chars-lowercase-u-escapes"),
    pytest.param("\x7f\u2028\u2029\ufeff", '"\x7f\u2028\u2029\ufeff"'.encode(), id="del-and-separators-raw"),
    pytest.param("\ufffe\uffff", '"\ufffe\uffff"'.encode(), id="noncharacters-raw"),
    pytest.param(("a", 1), b'["a",1]', id="tuple-as-array"),
]


@pytest.mark.parametrize(("value", "canonical"), VALID)
def test_encode_produces_the_canonical_bytes(value: Any, canonical: bytes) -> None:
    assert encode(value) == canonical


@pytest.mark.parametrize(("value", "canonical"), VALID)
def test_decode_accepts_canonical_bytes(value: Any, canonical: bytes) -> None:
    expected = list(value) if isinstance(value, tuple) else value
    assert decode(canonical) == expected


ENCODE_INVALID = [
    pytest.param(1.0, id="float"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="infinity"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param([True], id="boolean-in-array"),
    pytest.param({"a": False}, id="boolean-in-object"),
    pytest.param(MAX_SAFE_INT + 1, id="int-above-safe-range"),
    pytest.param(-MAX_SAFE_INT - 1, id="int-below-safe-range"),
    pytest.param(2**64, id="big-int"),
    pytest.param({1: "x"}, id="non-string-key"),
    pytest.param({"": 1}, id="empty-key"),
    pytest.param({"\u00e9": 1}, id="non-ascii-key"),
    pytest.param({"a\n": 1}, id="key-with-trailing-newline"),
    pytest.param({"\x1f": 1}, id="control-char-key"),
    pytest.param({"\x7f": 1}, id="del-key"),
    pytest.param({"k" * 129: 1}, id="key-longer-than-128"),
    pytest.param("\ud800", id="lone-high-surrogate"),
    pytest.param("a\udc00b", id="lone-low-surrogate"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param({1, 2}, id="set"),
    pytest.param(object(), id="object"),
    pytest.param(_nested(34), id="nesting-deeper-than-32"),
]


@pytest.mark.parametrize("value", ENCODE_INVALID)
def test_encode_rejects_values_outside_the_canonical_model(value: Any) -> None:
    with pytest.raises(EncodingError):
        encode(value)


def test_encode_accepts_the_longest_allowed_key_and_nesting() -> None:
    """No value may be enclosed by more than 32 arrays/objects; 32 is fine."""
    assert encode(_nested(32)) == b"[" * 32 + b"1" + b"]" * 32
    innermost_empty_array_inside_32 = b"[" * 33 + b"]" * 33
    assert encode(decode(innermost_empty_array_inside_32)) == innermost_empty_array_inside_32
    assert encode({"k" * 128: 1}).startswith(b'{"' + b"k" * 128)


DECODE_INVALID = [
    # (bytes, error code, why)
    pytest.param(b"1.0", "encoding_invalid", id="float"),
    pytest.param(b"1e3", "encoding_invalid", id="exponent"),
    pytest.param(b"-0.0", "encoding_invalid", id="negative-zero-float"),
    pytest.param(b"NaN", "encoding_invalid", id="nan"),
    pytest.param(b"Infinity", "encoding_invalid", id="infinity"),
    pytest.param(b"-Infinity", "encoding_invalid", id="minus-infinity"),
    pytest.param(b"true", "encoding_invalid", id="true"),
    pytest.param(b'{"a":false}', "encoding_invalid", id="false-in-object"),
    pytest.param(b"9007199254740992", "encoding_invalid", id="int-above-safe-range"),
    pytest.param(b"-9007199254740992", "encoding_invalid", id="int-below-safe-range"),
    pytest.param(b"1" * 5000, "encoding_invalid", id="huge-int"),
    pytest.param(b"-0", "encoding_not_canonical", id="minus-zero"),
    pytest.param(b"01", "encoding_invalid", id="leading-zero"),
    pytest.param(b"+1", "encoding_invalid", id="plus-sign"),
    pytest.param(b'{"a":1,"a":1}', "encoding_not_canonical", id="duplicate-key"),
    pytest.param(b'{"a":{"b":1,"b":2}}', "encoding_not_canonical", id="nested-duplicate-key"),
    pytest.param(b'{"b":1,"a":2}', "encoding_not_canonical", id="unsorted-keys"),
    pytest.param(b" 1", "encoding_not_canonical", id="leading-space"),
    pytest.param(b"1\n", "encoding_not_canonical", id="trailing-newline"),
    pytest.param(b'{"a": 1}', "encoding_not_canonical", id="space-after-colon"),
    pytest.param(b"[1, 2]", "encoding_not_canonical", id="space-after-comma"),
    pytest.param(b'{\n"a":1}', "encoding_not_canonical", id="newline-in-object"),
    pytest.param('{"\u00e9":1}'.encode(), "encoding_invalid", id="non-ascii-key"),
    pytest.param(b'{"":1}', "encoding_invalid", id="empty-key"),
    pytest.param(b'"\\u00e9"', "encoding_not_canonical", id="escaped-non-ascii"),
    pytest.param(b'"\\u0041"', "encoding_not_canonical", id="escaped-ascii-letter"),
    pytest.param(b'"\\/"', "encoding_not_canonical", id="escaped-slash"),
    pytest.param(b'"\\u000a"', "encoding_not_canonical", id="long-form-of-short-escape"),
    pytest.param(b'"\\u001F"', "encoding_not_canonical", id="uppercase-hex-escape"),
    pytest.param(b'"\\ud83d\\ude00"', "encoding_not_canonical", id="escaped-surrogate-pair"),
    pytest.param(b'"\\ud800"', "encoding_invalid", id="escaped-lone-surrogate"),
    pytest.param(b'"\\udc00x"', "encoding_invalid", id="escaped-lone-low-surrogate"),
    pytest.param(b'"\xed\xa0\x80"', "encoding_invalid", id="utf8-encoded-surrogate"),
    pytest.param(b'"\xc3\x28"', "encoding_invalid", id="invalid-utf8"),
    pytest.param(b'"\xc0\xaf"', "encoding_invalid", id="overlong-utf8"),
    pytest.param(b'\xef\xbb\xbf"a"', "encoding_invalid", id="utf8-bom"),
    pytest.param(b'"\x01"', "encoding_invalid", id="raw-control-char"),
    pytest.param(b'"a\nb"', "encoding_invalid", id="raw-newline-in-string"),
    pytest.param(b"", "encoding_invalid", id="empty-input"),
    pytest.param(b"[1,]", "encoding_invalid", id="trailing-comma"),
    pytest.param(b"[1][2]", "encoding_invalid", id="two-documents"),
    pytest.param(b"'a'", "encoding_invalid", id="single-quotes"),
    pytest.param(b"[" * 34 + b"]" * 34, "encoding_invalid", id="nesting-deeper-than-32"),
    pytest.param(b"[" * 100000 + b"]" * 100000, "encoding_invalid", id="pathological-nesting"),
]


@pytest.mark.parametrize(("data", "code"), DECODE_INVALID)
def test_decode_rejects_non_canonical_or_invalid_bytes(data: bytes, code: str) -> None:
    with pytest.raises(EncodingError) as info:
        decode(data)
    assert info.value.code == code


def test_non_canonical_encoding_is_a_kind_of_encoding_error() -> None:
    assert issubclass(NonCanonicalEncoding, EncodingError)


@pytest.mark.parametrize("data", ["1", bytearray(b"1"), memoryview(b"1")], ids=["str", "bytearray", "memoryview"])
def test_decode_takes_bytes_only_or_bytearray(data: Any) -> None:
    if isinstance(data, bytearray):
        assert decode(data) == 1
    else:
        with pytest.raises(EncodingError):
            decode(data)


@given(json_values)
@settings(max_examples=400)
def test_decode_inverts_encode(value: Any) -> None:
    assert decode(encode(value)) == value


@given(json_values)
@settings(max_examples=200)
def test_fast_encoder_matches_json_dumps_byte_for_byte(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    assert encode(value) == expected
    assert encode_unchecked(value) == expected


@given(json_values)
@settings(max_examples=200)
def test_encoding_is_stable_across_round_trips(value: Any) -> None:
    data = encode(value)
    assert encode(decode(data)) == data
    assert hash_object(value) == hash_object(decode(data))


# --- field readers -------------------------------------------------------------------

def test_require_keys_names_the_missing_and_the_unknown_field() -> None:
    with pytest.raises(MalformedObject) as missing:
        require_keys({"a": 1}, frozenset({"a", "b"}), "thing")
    assert missing.value.detail["field"] == "b"
    with pytest.raises(MalformedObject) as extra:
        require_keys({"a": 1, "z": 2}, frozenset({"a"}), "thing")
    assert extra.value.detail["field"] == "z"
    with pytest.raises(MalformedObject):
        require_keys([("a", 1)], frozenset({"a"}), "thing")


@pytest.mark.parametrize(
    "value", ["", "x" * 65, "-leading-dash", "has space", "tab\t", "e2026\n", "\u00e9lection", 7, None, ["a"]],
)
def test_read_str_with_ident_pattern_rejects_bad_identifiers(value: Any) -> None:
    with pytest.raises(MalformedObject):
        read_str({"k": value}, "k", pattern=IDENT_RE)


@pytest.mark.parametrize("value", ["a", "A.b_c:d-9", "x" * 64])
def test_read_str_with_ident_pattern_accepts_identifiers(value: str) -> None:
    assert read_str({"k": value}, "k", pattern=IDENT_RE) == value


@pytest.mark.parametrize("value", [True, -1, 2**53, "1", None])
def test_read_int_rejects_non_integers_and_out_of_range(value: Any) -> None:
    with pytest.raises(MalformedObject):
        read_int({"k": value}, "k")


@pytest.mark.parametrize(
    "value", ["AB" * 4, "ab" * 3, "ab" * 5, "zz" * 4, "ab" * 3 + "a\n", " " + "ab" * 3 + "a", 12, None],
    ids=["uppercase", "short", "long", "not-hex", "trailing-newline", "leading-space", "int", "null"],
)
def test_read_hex_rejects_anything_but_exact_lowercase_hex(value: Any) -> None:
    with pytest.raises(MalformedObject):
        read_hex({"k": value}, "k", 4)


def test_read_hex_returns_the_bytes() -> None:
    assert read_hex({"k": "00ff10ab"}, "k", 4) == b"\x00\xff\x10\xab"
