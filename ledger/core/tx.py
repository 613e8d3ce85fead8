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
    read_hex,
    read_int,
    read_str,
    require_keys,
    sha256,
)
from .errors import MalformedObject

TX_VERSION = 1
TX_SIGN_TAG = b"EVOTE-TX-V1:"
MAX_TX_BYTES = 128 * 1024
IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

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
        if obj["v"] != TX_VERSION or type(obj["v"]) is not int:
            raise MalformedObject("unsupported transaction version", field="v")
        payload = obj["payload"]
        if type(payload) is not dict:
            raise MalformedObject("payload must be an object", field="payload")
        signer = read_hex(obj, "signer", crypto.PUBLIC_KEY_SIZE)
        crypto.validate_public_key_bytes(signer)
        tx = cls(
            chain=read_str(obj, "chain", pattern=IDENT_RE),
            contract=read_str(obj, "contract", pattern=IDENT_RE),
            type=read_str(obj, "type", pattern=TYPE_RE),
            payload=payload,
            signer=signer,
            nonce=read_int(obj, "nonce"),
            sig=read_hex(obj, "sig", crypto.SIGNATURE_SIZE),
        )
        return tx

    @classmethod
    def from_bytes(cls, data: bytes) -> "Transaction":
        if len(data) > MAX_TX_BYTES:
            raise MalformedObject("transaction too large", size=len(data), limit=MAX_TX_BYTES)
        return cls.from_dict(decode(data))


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
