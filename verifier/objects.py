"""Decoders for the protocol's objects: genesis (5), transactions (4), headers and certificates (6).

Each decoder takes an already canonical-decoded value and checks exact keys and types,
raising the protocol code of the object (``genesis_invalid``, ``malformed``,
``block_invalid``, ``certificate_invalid``) with the offending field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from . import canonical
from .errors import Invalid
from .signatures import address_of, check_public_key

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
TX_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX128 = re.compile(r"[0-9a-f]{128}")
HEX130 = re.compile(r"[0-9a-f]{130}")
MAX_SAFE = 2**53 - 1
TX_KEYS = frozenset({"v", "chain", "contract", "type", "payload", "signer", "nonce", "sig"})
HEADER_KEYS = frozenset({"v", "chain", "height", "round", "prev", "time", "proposer", "txs", "tx_root", "state_root"})
TX_TAG = b"EVOTE-TX-V1:"
VOTE_TAG = b"EVOTE-VOTE-V1:"
PARAM_DEFAULTS = {"max_block_txs": 5000, "max_block_bytes": 8388608, "max_clock_drift_ms": 10000}


def is_identifier(value: Any) -> bool:
    return type(value) is str and IDENTIFIER.fullmatch(value) is not None


def is_int(value: Any, low: int, high: int = MAX_SAFE) -> bool:
    return type(value) is int and low <= value <= high


def is_hex(value: Any, pattern: re.Pattern[str]) -> bool:
    return type(value) is str and pattern.fullmatch(value) is not None


# --- genesis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validator:
    id: str
    pubkey: bytes
    power: int


@dataclass(frozen=True)
class Genesis:
    value: dict[str, Any]
    chain: str
    time: int
    hash: bytes
    validators: tuple[Validator, ...]
    by_id: dict[str, Validator]
    authorities: frozenset[str]  # public keys (hex)
    pins: dict[str, str]
    params: dict[str, int]
    quorum: int


def _genesis_error(message: str, field: str) -> Invalid:
    return Invalid("genesis_invalid", message, field=field)


def decode_genesis(raw: bytes) -> Genesis:
    """Decode and check a genesis document (every violation is ``genesis_invalid``)."""
    try:
        value = canonical.decode(raw)
    except Invalid as exc:
        raise Invalid("genesis_invalid", f"the genesis is not canonical JSON: {exc.message}", field="genesis") from exc
    if type(value) is not dict or set(value) != {"v", "chain", "time", "validators", "authorities", "contracts", "params"}:
        raise _genesis_error("the genesis must have exactly v, chain, time, validators, authorities, contracts, params", "genesis")
    if value["v"] != 1 or type(value["v"]) is not int:
        raise _genesis_error("v must be 1", "v")
    if not is_identifier(value["chain"]):
        raise _genesis_error("chain must be an identifier", "chain")
    if not is_int(value["time"], 0):
        raise _genesis_error("time must be a non-negative integer", "time")
    validators = _genesis_validators(value["validators"])
    authorities = _genesis_authorities(value["authorities"])
    pins = _genesis_pins(value["contracts"])
    params = _genesis_params(value["params"])
    total = sum(v.power for v in validators)
    return Genesis(value=value, chain=value["chain"], time=value["time"], hash=hashlib.sha256(raw).digest(),
                   validators=validators, by_id={v.id: v for v in validators}, authorities=authorities,
                   pins=pins, params=params, quorum=(2 * total) // 3 + 1)


def _named(entry: Any, keys: set[str], field: str) -> dict[str, Any]:
    if type(entry) is not dict or set(entry) != keys:
        raise _genesis_error(f"each entry of {field} must have exactly {sorted(keys)}", field)
    if not is_identifier(entry["id"]):
        raise _genesis_error(f"{field} ids must be identifiers", field)
    if "name" in keys and not (type(entry["name"]) is str and 1 <= len(entry["name"]) <= 200):
        raise _genesis_error(f"{field} names are 1..200 characters", field)
    return entry


def _genesis_key(text: Any, field: str) -> bytes:
    if not is_hex(text, HEX130):
        raise _genesis_error(f"{field} keys are 130 hex digits", field)
    try:
        check_public_key(bytes.fromhex(text))
    except Invalid as exc:
        raise _genesis_error(f"{field} key is not a valid P-256 key", field) from exc
    return bytes.fromhex(text)


def _genesis_validators(items: Any) -> tuple[Validator, ...]:
    if type(items) is not list or not items:
        raise _genesis_error("validators must be a non-empty list", "validators")
    result = []
    for entry in items:
        entry = _named(entry, {"id", "name", "pubkey", "power"}, "validators")
        if not is_int(entry["power"], 1, 1_000_000):
            raise _genesis_error("validator power is 1..1000000", "validators")
        result.append(Validator(entry["id"], _genesis_key(entry["pubkey"], "validators"), entry["power"]))
    if len({v.id for v in result}) != len(result) or len({v.pubkey for v in result}) != len(result):
        raise _genesis_error("validator ids and keys must be unique", "validators")
    return tuple(result)


def _genesis_authorities(items: Any) -> frozenset[str]:
    if type(items) is not list:
        raise _genesis_error("authorities must be a list", "authorities")
    ids = [_named(entry, {"id", "name", "pubkey"}, "authorities")["id"] for entry in items]
    keys = [_genesis_key(entry["pubkey"], "authorities").hex() for entry in items]
    if len(set(ids)) != len(ids):
        raise _genesis_error("authority ids must be unique", "authorities")
    return frozenset(keys)


def _genesis_pins(items: Any) -> dict[str, str]:
    if type(items) is not list:
        raise _genesis_error("contracts must be a list", "contracts")
    pins: dict[str, str] = {}
    for entry in items:
        entry = _named(entry, {"id", "source_sha256"}, "contracts")
        if not is_hex(entry["source_sha256"], HEX64):
            raise _genesis_error("source_sha256 is 64 lowercase hex digits", "contracts")
        if entry["id"] in pins:
            raise _genesis_error("contract ids must be unique", "contracts")
        pins[entry["id"]] = entry["source_sha256"]
    return pins


def _genesis_params(params: Any) -> dict[str, int]:
    if type(params) is not dict:
        raise _genesis_error("params must be an object", "params")
    for name, number in params.items():
        if name not in PARAM_DEFAULTS or not is_int(number, 1):
            raise _genesis_error(f"unknown parameter or not a positive integer: {name}", "params")
    return {**PARAM_DEFAULTS, **params}


# --- transactions -----------------------------------------------------------------------------


class Tx:
    """A transaction as the machine needs it: fields, id (tracking code), signer and sender."""

    __slots__ = ("chain", "contract", "type", "payload", "signer_hex", "sig", "id", "sender")

    def __init__(self, chain: str, contract: str, type_: str, payload: dict[str, Any], signer_hex: str, sig: bytes,
                 tx_id: bytes, sender: str) -> None:
        self.chain = chain
        self.contract = contract
        self.type = type_
        self.payload = payload
        self.signer_hex = signer_hex
        self.sig = sig
        self.id = tx_id
        self.sender = sender

    @property
    def signer(self) -> bytes:
        return bytes.fromhex(self.signer_hex)

    @property
    def signing_message(self) -> bytes:
        return TX_TAG + self.id


def check_tx_fields(value: Any) -> None:
    """The field rules of section 4 (``malformed``, or ``public_key_invalid`` for a non-04 signer)."""
    if type(value) is not dict or value.keys() != TX_KEYS:
        raise Invalid("malformed", "a transaction has exactly v, chain, contract, type, payload, signer, nonce, sig",
                      field="tx")
    # Written out one by one: this runs for every transaction of a chain.
    if value["v"] != 1 or type(value["v"]) is not int:
        raise _malformed("v")
    if not is_identifier(value["chain"]):
        raise _malformed("chain")
    if not is_identifier(value["contract"]):
        raise _malformed("contract")
    if type(value["type"]) is not str or TX_TYPE.fullmatch(value["type"]) is None:
        raise _malformed("type")
    if type(value["payload"]) is not dict:
        raise _malformed("payload")
    if not is_hex(value["signer"], HEX130):
        raise _malformed("signer")
    if not is_int(value["nonce"], 0):
        raise _malformed("nonce")
    if not is_hex(value["sig"], HEX128):
        raise _malformed("sig")
    if not value["signer"].startswith("04"):
        raise Invalid("public_key_invalid", "the signer key must be uncompressed (04 || X || Y)", field="signer")


def _malformed(name: str) -> Invalid:
    return Invalid("malformed", f"transaction field {name} breaks its rule", field=name)


def make_tx(value: dict[str, Any], tx_id: bytes) -> Tx:
    """A Tx of checked fields and their id."""
    return Tx(value["chain"], value["contract"], value["type"], value["payload"], value["signer"],
              bytes.fromhex(value["sig"]), tx_id, address_of(bytes.fromhex(value["signer"])))


def decode_tx(value: Any) -> Tx:
    """Check the fields of section 4 on a decoded value and compute the id (SHA-256 of the body)."""
    check_tx_fields(value)
    body = dict(value)
    del body["sig"]
    return make_tx(value, hashlib.sha256(canonical.encode_unchecked(body)).digest())


def check_payload_keys(payload: dict[str, Any], required: set[str], optional: frozenset[str] = frozenset()) -> None:
    """Payload fields are exact (section 10): a missing or extra one is ``malformed``."""
    keys = set(payload)
    if not required <= keys or not keys <= required | optional:
        raise Invalid("malformed", f"the payload must have exactly {sorted(required)} (optional {sorted(optional)})")


# --- headers and certificates ---------------------------------------------------------------


class Header:
    __slots__ = ("value", "raw", "hash", "height", "round", "prev", "time", "proposer", "txs", "tx_root",
                 "state_root", "chain")

    def __init__(self, value: dict[str, Any], raw: bytes) -> None:
        self.value = value
        self.raw = raw
        self.hash = hashlib.sha256(raw).digest()
        self.chain: str = value["chain"]
        self.height: int = value["height"]
        self.round: int = value["round"]
        self.prev: str = value["prev"]
        self.time: int = value["time"]
        self.proposer: str = value["proposer"]
        self.txs: int = value["txs"]
        self.tx_root: str = value["tx_root"]
        self.state_root: str = value["state_root"]


def decode_header(value: Any, raw: bytes) -> Header:
    """Check the header keys of section 6.1 (``block_invalid`` naming the field)."""
    if type(value) is not dict or value.keys() != HEADER_KEYS:
        raise Invalid("block_invalid", "a header has exactly the keys of protocol section 6.1", field="header")
    for name, ok in (
        ("v", value["v"] == 1 and type(value["v"]) is int),
        ("chain", is_identifier(value["chain"])),
        ("height", is_int(value["height"], 1)),
        ("round", is_int(value["round"], 0)),
        ("prev", is_hex(value["prev"], HEX64)),
        ("time", is_int(value["time"], 0)),
        ("proposer", is_identifier(value["proposer"])),
        ("txs", is_int(value["txs"], 0)),
        ("tx_root", is_hex(value["tx_root"], HEX64)),
        ("state_root", is_hex(value["state_root"], HEX64)),
    ):
        if not ok:
            raise Invalid("block_invalid", f"header field {name} breaks its rule", field=name)
    return Header(value, raw)


def vote_signing_message(body: dict[str, Any]) -> bytes:
    """``EVOTE-VOTE-V1:`` || SHA-256(canonical(vote body)) (section 6.2)."""
    return VOTE_TAG + hashlib.sha256(canonical.encode_unchecked(body)).digest()


def certificate_checks(cert: Any, header: Header, genesis: Genesis) -> list[tuple[bytes, bytes, bytes]]:
    """Structural checks of section 6.3; returns the (key, sig, message) triples still to verify."""
    def bad(message: str) -> Invalid:
        return Invalid("certificate_invalid", message, field="certificate")

    if type(cert) is not dict or cert.keys() != {"height", "round", "block", "sigs"}:
        raise bad("a certificate has exactly height, round, block, sigs")
    if not is_int(cert["round"], 0) or type(cert["sigs"]) is not list:
        raise bad("round must be a non-negative integer and sigs a list")
    if cert["block"] != header.hash.hex() or cert["height"] != header.height or type(cert["height"]) is not int:
        raise bad("the certificate is for another block")
    checks = []
    power = 0
    previous = None
    for entry in cert["sigs"]:
        if type(entry) is not dict or entry.keys() != {"validator", "sig"} or not is_hex(entry["sig"], HEX128):
            raise bad("each signature is {validator, sig} with 128 hex digits")
        validator = genesis.by_id.get(entry["validator"]) if type(entry["validator"]) is str else None
        if validator is None:
            raise bad(f"{str(entry['validator'])[:64]} is not a genesis validator")
        if previous is not None and not previous < validator.id:
            raise bad("signatures must be sorted by validator id without duplicates")
        previous = validator.id
        power += validator.power
        body = {"v": 1, "chain": header.chain, "kind": "precommit", "height": header.height, "round": cert["round"],
                "block": cert["block"], "validator": validator.id}
        checks.append((validator.pubkey, bytes.fromhex(entry["sig"]), vote_signing_message(body)))
    if power < genesis.quorum:
        raise bad(f"signing power {power} is below the quorum {genesis.quorum}")
    return checks
