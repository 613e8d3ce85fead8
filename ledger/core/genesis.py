"""The genesis document: who validates, who may run elections, which contracts.

The genesis file is the root of trust for every node and every observer: the
validator keys in it check every commit certificate, the authority keys in it
may create elections, and the contract source hashes in it pin the code that
counts votes. Its hash is the ``prev`` of block 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import crypto
from .encoding import decode, encode, read_hex, read_int, read_str, require_keys, sha256
from .errors import GenesisInvalid, LedgerError
from .tx import IDENT_RE

GENESIS_VERSION = 1
_NAME_MAX = 200
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")

DEFAULT_PARAMS: dict[str, int] = {
    "max_block_txs": 5000,
    "max_block_bytes": 8 * 1024 * 1024,
    "max_clock_drift_ms": 10_000,
}


@dataclass(frozen=True, slots=True)
class Validator:
    id: str
    name: str
    pubkey: bytes
    power: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "pubkey": self.pubkey.hex(), "power": self.power}


@dataclass(frozen=True, slots=True)
class Authority:
    id: str
    name: str
    pubkey: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "pubkey": self.pubkey.hex()}


@dataclass(frozen=True, slots=True)
class ContractPin:
    id: str
    source_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source_sha256": self.source_sha256}


@dataclass(frozen=True)
class Genesis:
    chain: str
    time: int
    validators: tuple[Validator, ...]
    authorities: tuple[Authority, ...]
    contracts: tuple[ContractPin, ...]
    params: dict[str, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", sha256(encode(self.to_dict())))
        object.__setattr__(self, "_by_id", {v.id: v for v in self.validators})
        object.__setattr__(self, "total_power", sum(v.power for v in self.validators))

    hash: bytes = field(init=False, repr=False, compare=False)
    total_power: int = field(init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": GENESIS_VERSION,
            "chain": self.chain,
            "time": self.time,
            "validators": [v.to_dict() for v in self.validators],
            "authorities": [a.to_dict() for a in self.authorities],
            "contracts": [c.to_dict() for c in self.contracts],
            "params": dict(self.params),
        }

    def to_bytes(self) -> bytes:
        return encode(self.to_dict())

    def validator(self, validator_id: str) -> Validator | None:
        return self._by_id.get(validator_id)  # type: ignore[attr-defined,no-any-return]

    def quorum_power(self) -> int:
        """Smallest power strictly greater than 2/3 of the total."""
        return self.total_power * 2 // 3 + 1

    def max_faulty(self) -> int:
        return (len(self.validators) - 1) // 3

    def proposer_for(self, height: int, round: int) -> Validator:
        """Round-robin proposer: rotates with height and round."""
        return self.validators[(height + round) % len(self.validators)]

    def is_authority(self, pubkey: bytes) -> bool:
        return any(a.pubkey == pubkey for a in self.authorities)

    def param(self, name: str) -> int:
        return self.params.get(name, DEFAULT_PARAMS[name])

    @classmethod
    def from_dict(cls, data: Any) -> "Genesis":
        try:
            return cls._from_dict(data)
        except GenesisInvalid:
            raise
        except LedgerError as exc:
            raise GenesisInvalid(f"genesis: {exc.message}", **exc.detail) from exc

    @classmethod
    def _from_dict(cls, data: Any) -> "Genesis":
        obj = require_keys(data, frozenset({"v", "chain", "time", "validators", "authorities", "contracts", "params"}), "genesis")
        if obj["v"] != GENESIS_VERSION or type(obj["v"]) is not int:
            raise GenesisInvalid("unsupported genesis version")
        validators = tuple(_read_validator(v) for v in _read_list(obj, "validators"))
        authorities = tuple(_read_authority(a) for a in _read_list(obj, "authorities"))
        contracts = tuple(_read_contract(c) for c in _read_list(obj, "contracts"))
        if not validators:
            raise GenesisInvalid("genesis needs at least one validator")
        for what, items in (("validator", validators), ("authority", authorities), ("contract", contracts)):
            ids = [item.id for item in items]
            if len(set(ids)) != len(ids):
                raise GenesisInvalid(f"duplicate {what} id")
        if len({v.pubkey for v in validators}) != len(validators):
            raise GenesisInvalid("duplicate validator key")
        params = obj["params"]
        if type(params) is not dict or any(k not in DEFAULT_PARAMS or type(v) is not int or v <= 0 for k, v in params.items()):
            raise GenesisInvalid("params must map known parameter names to positive integers", field="params")
        return cls(
            chain=read_str(obj, "chain", pattern=IDENT_RE),
            time=read_int(obj, "time"),
            validators=validators,
            authorities=authorities,
            contracts=contracts,
            params=dict(params),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "Genesis":
        try:
            return cls.from_dict(decode(data))
        except GenesisInvalid:
            raise
        except LedgerError as exc:
            raise GenesisInvalid(f"genesis: {exc.message}") from exc


def _read_list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj[key]
    if type(value) is not list:
        raise GenesisInvalid(f"{key} must be a list", field=key)
    return value


def _read_pubkey(obj: dict[str, Any]) -> bytes:
    key = read_hex(obj, "pubkey", crypto.PUBLIC_KEY_SIZE)
    crypto.load_public_key(key)  # curve check now, not at first use
    return key


def _read_validator(data: Any) -> Validator:
    obj = require_keys(data, frozenset({"id", "name", "pubkey", "power"}), "validator")
    return Validator(
        id=read_str(obj, "id", pattern=IDENT_RE),
        name=read_str(obj, "name", max_len=_NAME_MAX),
        pubkey=_read_pubkey(obj),
        power=read_int(obj, "power", minimum=1, maximum=1_000_000),
    )


def _read_authority(data: Any) -> Authority:
    obj = require_keys(data, frozenset({"id", "name", "pubkey"}), "authority")
    return Authority(
        id=read_str(obj, "id", pattern=IDENT_RE),
        name=read_str(obj, "name", max_len=_NAME_MAX),
        pubkey=_read_pubkey(obj),
    )


def _read_contract(data: Any) -> ContractPin:
    obj = require_keys(data, frozenset({"id", "source_sha256"}), "contract")
    return ContractPin(id=read_str(obj, "id", pattern=IDENT_RE), source_sha256=read_str(obj, "source_sha256", pattern=_HEX64))
