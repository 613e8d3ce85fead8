"""Support for tests/e2e/test_ledger_js.py: a Chromium page with static/ledger/*.js, and the Python side.

Requests to https://evote.test/ are answered from the project's static/ folder by Playwright
routing, so no socket is opened. The origin is https because WebCrypto (crypto.subtle) exists
only in a secure context; over plain http://evote.test it is undefined.

In the page, ``ev`` is evote.js, ``br`` is blindrsa.js, and ``attempt(fn)`` runs an async
function and returns ``{ok: value}`` or ``{code: <EvoteError code>}`` (any other exception,
i.e. a bug, propagates and fails the test). The ``python_*_outcome`` functions give the
reference's verdict in the same shape, so a test compares lists of outcomes.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from hypothesis import strategies as st

from ledger.core import blindrsa
from ledger.core.crypto import CURVE_ORDER, PrivateKey
from ledger.core.encoding import MAX_SAFE_INT, encode
from ledger.core.errors import CredentialKeyInvalid, EncodingError
from ledger.core.tx import IDENT_RE
from voting.cards import CardPayload, CardPayloadInvalid, compute_check_code, parse_card_payload

ORIGIN = "https://evote.test"
STATIC_DIR = Path(settings.BASE_DIR) / "static"

_SETUP = """async () => {
  window.ev = await import('/static/ledger/evote.js');
  window.br = await import('/static/ledger/blindrsa.js');
  window.attempt = async (fn) => {
    try {
      return {ok: await fn()};
    } catch (error) {
      if (error instanceof ev.EvoteError) return {code: error.code};
      throw error;
    }
  };
  return Object.keys(ev).length + Object.keys(br).length;
}"""


def _serve(route: Any) -> None:
    path = route.request.url[len(ORIGIN):].split("?", 1)[0]
    if path == "/blank.html":
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><meta charset=utf-8><title>js</title>")
        return
    if path.startswith("/static/"):
        target = (STATIC_DIR / path[len("/static/"):]).resolve()
        if target.is_file() and STATIC_DIR in target.parents:
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if target.suffix == ".js":
                kind = "text/javascript"  # module scripts need a JavaScript MIME type
            route.fulfill(status=200, content_type=kind, body=target.read_bytes())
            return
    route.fulfill(status=404, body="not found")


def open_ledger_page(browser: Any) -> Iterator[Any]:
    """Yield a page with the ledger modules imported (a generator for a pytest fixture)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.route(ORIGIN + "/**", _serve)
    page.goto(ORIGIN + "/blank.html")
    page.evaluate(_SETUP)
    try:
        yield page
    finally:
        context.close()


# --- vectors and the Python reference's verdicts -------------------------------------------


VECTORS = Path(__file__).resolve().parents[1] / "ledger" / "vectors"


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def python_outcome(value: Any) -> dict[str, str]:
    """ledger.core.encoding's verdict on a value: its canonical hex, or the error code."""
    try:
        return {"ok": encode(value).hex()}
    except EncodingError as exc:
        return {"code": exc.code}


def json_value_of(bytes_hex: str) -> tuple[bool, Any]:
    """(True, value) when JSON.parse can hold the vector's value faithfully (no NaN, no integral float)."""
    def refuse(_: str) -> Any:
        raise ValueError("NaN/Infinity")

    try:
        value = json.loads(bytes.fromhex(bytes_hex).decode("utf-8"), parse_constant=refuse)
    except ValueError:  # not UTF-8 / not JSON: a byte-level fault, no value to hand to the encoder
        return False, None
    floats: list[float] = []

    def walk(item: Any) -> None:
        if isinstance(item, float):
            floats.append(item)
        elif isinstance(item, list):
            for child in item:
                walk(child)
        elif isinstance(item, dict):
            for child in item.values():
                walk(child)

    walk(value)
    return not any(number.is_integer() for number in floats), value


def nest(leaf: Any, depth: int, kind: str) -> Any:
    """``leaf`` inside ``depth`` lists or single-key objects."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


# Hypothesis strategies: canonical JSON values, and values with at least one out-of-model part.
_SPECIAL_CHARS = '"\\/\b\f\n\r\t\x00\x01\x1f\x7f\x85\xa0\xe9\u2028\u2029\ufeff\uffff\U0001f5f3\U0010ffff'
_text = st.text(alphabet=st.sampled_from(_SPECIAL_CHARS) | st.characters(codec="utf-8"), max_size=24)
_keys = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=128)
_ints = st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.sampled_from([0, -1, MAX_SAFE_INT, -MAX_SAFE_INT, 2**31])
json_values = st.recursive(
    st.none() | _ints | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=24,
)
_bad_keys = (st.just("")
             | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=129, max_size=140)
             | st.tuples(_keys, st.sampled_from("\x00\x1f\x7f\xe9\u3000\U0001f5f3")).map("".join))
_bad_leaves = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda number: not number.is_integer()),
    st.booleans(),
    st.integers(min_value=MAX_SAFE_INT + 1) | st.integers(max_value=-MAX_SAFE_INT - 1),
    st.tuples(_text, st.integers(0xD800, 0xDFFF), _text).map(lambda parts: parts[0] + chr(parts[1]) + parts[2]),
    st.dictionaries(_bad_keys, json_values, min_size=1, max_size=2),
)
maybe_bad_values = st.recursive(
    json_values | _bad_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=16,
)


def python_card_outcome(text: str) -> dict[str, Any]:
    """voting/cards.py's verdict on a scanned text, shaped like the page's parseCard outcome."""
    try:
        card, key = parse_card_payload(text)
    except CardPayloadInvalid as exc:
        return {"code": exc.code}
    return {"ok": [card.chain, card.election, key.address, card.check, key.public_key.hex()]}


def card_text(chain: str, election: str, scalar: int, check: str | None = None) -> str:
    """A payload as voting/cards.py writes it; ``check`` overrides the computed code."""
    secret = scalar.to_bytes(32, "big")
    if check is None:
        check = compute_check_code(PrivateKey.from_secret(secret).address)
    return CardPayload(chain, election, secret, check).to_text()


def raw_card(secret: bytes, check: str = "AAAA-AAAA") -> str:
    """A payload around any 32 bytes, even a scalar that is no valid key."""
    return "~".join(("EV1", "evote-test", "gg-2026", base64.urlsafe_b64encode(secret).rstrip(b"=").decode(), check))


# Hypothesis strategies for card payloads.
idents = st.from_regex(IDENT_RE, fullmatch=True)
scalars = st.integers(1, CURVE_ORDER - 1)


def flip_check(text: str) -> str:
    """The payload with one character of its check code changed (a misread scan)."""
    head, check = text.rsplit("~", 1)
    return f"{head}~{('B' if check[0] == 'A' else 'A')}{check[1:]}"


_edit_chars = st.sampled_from("~-_=+/ \n\t\x1c\x85\ufeff\u3000AZaz09EV1.:")


@st.composite
def mutated_cards(draw: Any) -> str:
    """A valid payload with up to three character edits: inserted, deleted, replaced or wrapping characters."""
    text = card_text(draw(idents), draw(idents), draw(scalars))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "wrap"]))
        char = draw(_edit_chars)
        if kind == "insert":
            text = text[:position] + char + text[position:]
        elif kind == "delete":
            text = text[:position] + text[position + 1:]
        elif kind == "replace":
            text = text[:position] + char + text[position + 1:]
        else:
            text = char + text + draw(_edit_chars)
    return text


def spki_hex(n: int, e: int) -> str:
    """Canonical DER SubjectPublicKeyInfo of an RSA public key, hex."""
    return blindrsa.public_key_der(rsa.RSAPublicNumbers(e, n).public_key()).hex()


def rfc9474_private_key() -> rsa.RSAPrivateKey:
    """The signing key of RFC 9474 Appendix A (the key of credentials.json too)."""
    vector = load_vectors("rfc9474.json")["vectors"][0]
    p, q, d, e, n = (int(vector[name], 16) for name in ("p", "q", "d", "e", "n"))
    public = rsa.RSAPublicNumbers(e, n)
    crt = (rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q))
    numbers = rsa.RSAPrivateNumbers(p, q, d, *crt, public)
    return numbers.private_key()


def _tlv(tag: int, content: bytes, extra_length_byte: bool = False) -> bytes:
    """A DER element; ``extra_length_byte`` writes the length one byte longer than DER allows."""
    size = len(content)
    length = size.to_bytes(max(1, (size.bit_length() + 7) // 8), "big")
    if size < 0x80 and not extra_length_byte:
        return bytes([tag, size]) + content
    if extra_length_byte:
        length = b"\x00" + length if size >= 0x80 else length
    return bytes([tag, 0x80 | len(length)]) + length + content


RSA_OID = bytes.fromhex("06092a864886f70d010101")


def _spki(n: int, *, algorithm: bytes = RSA_OID + b"\x05\x00", unused_bits: int = 0, n_prefix: bytes = b"",
          long_exponent: bool = False, long_outer: bool = False) -> str:
    modulus = n_prefix + n.to_bytes((n.bit_length() + 8) // 8, "big")  # a leading 00 keeps it positive
    rsa_key = _tlv(0x30, _tlv(0x02, modulus) + _tlv(0x02, b"\x01\x00\x01", long_exponent))
    body = _tlv(0x30, algorithm) + _tlv(0x03, bytes([unused_bits]) + rsa_key)
    return _tlv(0x30, body, long_outer).hex()


def spki_cases() -> dict[str, str]:
    """Credential keys by name: two good ones, then keys that break one rule of protocol 10.2 each."""
    good = blindrsa.public_key_der(blindrsa.generate_private_key(2048).public_key())
    n = blindrsa.load_public_key(good).public_numbers().n
    assert _spki(n) == good.hex()  # the builder writes exactly the canonical form, so each case differs in one way
    e3 = blindrsa.public_key_der(rsa.generate_private_key(public_exponent=3, key_size=2048).public_key())
    small = blindrsa.public_key_der(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key())
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"good-2048": good.hex(), "good-4096": load_vectors("credentials.json")["credential_key"],
            "e-3": e3.hex(), "1024-bit": small.hex(), "ec-key": ec_key.hex(), "trailing-byte": good.hex() + "00",
            "truncated": good[:-1].hex(), "uppercase": good.hex().upper(), "odd-hex": good.hex()[:-1], "empty": "",
            "long-outer-length": _spki(n, long_outer=True), "long-exponent-length": _spki(n, long_exponent=True),
            "no-null-parameters": _spki(n, algorithm=RSA_OID),
            "extra-parameters": _spki(n, algorithm=RSA_OID + b"\x05\x00\x05\x00"),
            "rsa-pss-oid": _spki(n, algorithm=bytes.fromhex("06092a864886f70d01010a") + b"\x05\x00"),
            "unused-bits": _spki(n, unused_bits=1), "modulus-extra-zero": _spki(n, n_prefix=b"\x00"),
            "negative-modulus": _spki(n, n_prefix=b"\x80")}


def python_key_outcome(spki: str) -> dict[str, Any]:
    """ledger.core.blindrsa's verdict on a credential key in hex, shaped like parseRsaPublicKey's outcome."""
    try:
        key = blindrsa.load_public_key(bytes.fromhex(spki))
    except (CredentialKeyInvalid, ValueError):
        return {"code": "credential_key_invalid"}
    numbers = key.public_numbers()
    if spki != spki.lower():
        return {"code": "credential_key_invalid"}  # the ledger takes lowercase hex only (protocol 10.2)
    return {"ok": [format(numbers.n, "x"), numbers.e]}
