"""Transactions: the only way state changes.

A transaction names the chain, the contract and its method (``type``), carries
a JSON payload, the signer's public key, a signer-chosen ``nonce`` and a
signature. Its id is SHA-256 of the canonical body *without* the signature, so
re-encoding a signature can never change the id (a voter's tracking code).
Every id can be applied once per chain: that makes replays impossible by
construction, and the nonce lets an authority send two otherwise equal
transactions on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import crypto
from .encoding import (
    decode,
    encode,
    encode_unchecked,
    read_hex,
    read_int,
    read_str,
    require_keys,
    sha256,
    validate_canonical,
)
from .errors import MalformedObject

TX_VERSION = 1
TX_SIGN_TAG = b"EVOTE-TX-V1:"
MAX_TX_BYTES = 128 * 1024
IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")

_FIELDS = frozenset({"v", "chain", "contract", "type", "payload", "signer", "nonce", "sig"})


@dataclass(frozen=True, slots=True)
class Transaction:
    chain: str
    contract: str
    type: str
    payload: dict[str, Any]
    signer: bytes
    nonce: int
    sig: bytes
    id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", sha256(encode(self.body())))

    def body(self) -> dict[str, Any]:
        return {
            "v": TX_VERSION,
            "chain": self.chain,
            "contract": self.contract,
            "type": self.type,
            "payload": self.payload,
            "signer": self.signer.hex(),
            "nonce": self.nonce,
        }

    def to_dict(self) -> dict[str, Any]:
        data = self.body()
        data["sig"] = self.sig.hex()
        return data

    def to_bytes(self) -> bytes:
        return encode(self.to_dict())

    @property
    def id_hex(self) -> str:
        return self.id.hex()

    @property
    def sender(self) -> str:
        """Ledger address of the signer."""
        return crypto.address_of(self.signer)

    def signing_message(self) -> bytes:
        return signing_message(self.id)

    def verify_signature(self, impl: crypto.CryptoImpl = "openssl") -> None:
        crypto.verify(self.signer, self.sig, self.signing_message(), impl)

    @classmethod
    def from_dict(cls, data: Any) -> "Transaction":
        obj = require_keys(data, _FIELDS, "transaction")
        chain, contract, tx_type, payload, signer, nonce, sig = _read_fields(obj)
        validate_canonical(payload, 1)
        body = _checked_body_bytes(chain, contract, tx_type, payload, obj["signer"], nonce)
        return cls._assemble(chain, contract, tx_type, payload, signer, nonce, sig, sha256(body))

    @classmethod
    def from_canonical(cls, obj: Any, data: bytes) -> "Transaction":
        """A transaction from ``obj`` whose canonical encoding is known to be exactly ``data``.

        The id is hashed from ``data`` with the signature member cut out instead of
        re-encoding the body (hot path: decoding blocks and mempool submissions).
        """
        obj = require_keys(obj, _FIELDS, "transaction")
        chain, contract, tx_type, payload, signer, nonce, sig = _read_fields(obj)
        body = _body_from_canonical(data, obj["sig"])
        if body is None:  # pragma: no cover - only if data was not obj's encoding after all
            validate_canonical(payload, 1)
            body = _checked_body_bytes(chain, contract, tx_type, payload, obj["signer"], nonce)
        return cls._assemble(chain, contract, tx_type, payload, signer, nonce, sig, sha256(body))

    @classmethod
    def _assemble(cls, chain: str, contract: str, tx_type: str, payload: dict[str, Any], signer: bytes, nonce: int,
                  sig: bytes, tx_id: bytes) -> "Transaction":
        """Every field is checked and the id is known: skip __post_init__'s re-encoding."""
        tx = object.__new__(cls)
        setattr_ = object.__setattr__
        setattr_(tx, "chain", chain)
        setattr_(tx, "contract", contract)
        setattr_(tx, "type", tx_type)
        setattr_(tx, "payload", payload)
        setattr_(tx, "signer", signer)
        setattr_(tx, "nonce", nonce)
        setattr_(tx, "sig", sig)
        setattr_(tx, "id", tx_id)
        return tx

    @classmethod
    def from_bytes(cls, data: bytes) -> "Transaction":
        if isinstance(data, (bytes, bytearray)) and len(data) > MAX_TX_BYTES:
            raise MalformedObject("transaction too large", size=len(data), limit=MAX_TX_BYTES)
        value = decode(data)  # raises EncodingError for anything but bytes / bytearray
        return cls.from_canonical(value, bytes(data))


def _read_fields(obj: dict[str, Any]) -> tuple[str, str, str, dict[str, Any], bytes, int, bytes]:
    """Check every field except the payload's contents (the caller checks or knows them)."""
    if obj["v"] != TX_VERSION or type(obj["v"]) is not int:
        raise MalformedObject("unsupported transaction version", field="v")
    payload = obj["payload"]
    if type(payload) is not dict:
        raise MalformedObject("payload must be an object", field="payload")
    signer = read_hex(obj, "signer", crypto.PUBLIC_KEY_SIZE)
    crypto.validate_public_key_bytes(signer)
    return (
        read_str(obj, "chain", pattern=IDENT_RE),
        read_str(obj, "contract", pattern=IDENT_RE),
        read_str(obj, "type", pattern=TYPE_RE),
        payload,
        signer,
        read_int(obj, "nonce"),
        read_hex(obj, "sig", crypto.SIGNATURE_SIZE),
    )


_SIG_MEMBER = b',"sig":"'


def _body_from_canonical(data: bytes, sig_hex: str) -> bytes | None:
    """The canonical body: canonical transaction bytes minus ``,"sig":"<hex>"``.

    Top-level keys are sorted (chain, contract, nonce, payload, sig, signer, type, v),
    and nothing after "sig" can contain the marker (hex, a type name, an integer), so
    the last marker is the top-level member; a nested "sig" key inside the payload
    comes before it.
    """
    start = data.rfind(_SIG_MEMBER)
    end = start + len(_SIG_MEMBER) + len(sig_hex) + 1
    if start < 0 or data[start + len(_SIG_MEMBER):end] != sig_hex.encode() + b'"':
        return None
    return data[:start] + data[end:]


def _checked_body_bytes(chain: str, contract: str, tx_type: str, payload: dict[str, Any], signer_hex: str, nonce: int) -> bytes:
    """``encode(body)`` by concatenation, for fields that passed ``from_dict``'s checks.

    Valid only there: identifiers matching IDENT_RE / TYPE_RE contain no character that
    JSON escapes, ``signer_hex`` is canonical lowercase hex, the payload is validated,
    and the keys below are already in canonical (sorted) order.
    """
    head = f'{{"chain":"{chain}","contract":"{contract}","nonce":{nonce},"payload":'
    tail = f',"signer":"{signer_hex}","type":"{tx_type}","v":{TX_VERSION}}}'
    return head.encode() + encode_unchecked(payload) + tail.encode()


def signing_message(tx_id: bytes) -> bytes:
    """What the signer signs (ECDSA-P256-SHA256): the tag then the 32-byte id."""
    return TX_SIGN_TAG + tx_id


def make_tx(
    key: crypto.PrivateKey,
    *,
    chain: str,
    contract: str,
    type: str,
    payload: dict[str, Any],
    nonce: int = 0,
) -> Transaction:
    """Build and sign a transaction (used by authorities, tests and clients)."""
    unsigned = Transaction(chain, contract, type, payload, key.public_key, nonce, bytes(64))
    return Transaction(chain, contract, type, payload, key.public_key, nonce, key.sign(signing_message(unsigned.id)))
