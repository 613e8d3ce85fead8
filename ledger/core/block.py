"""Blocks, consensus votes and commit certificates.

A block header commits to its parent (``prev``), to its transactions (RFC 6962
Merkle root of their ids) and to the state after applying them
(``state_root``). The header hash is the block id. A block is final once it
carries a commit certificate: precommit signatures for that id from validators
holding more than 2/3 of the voting power (one-block finality). The
certificate is kept next to the block, not inside the hash, since it is made
after the block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from . import crypto
from .encoding import (
    decode,
    encode,
    encode_unchecked,
    parse,
    read_hex,
    read_int,
    read_str,
    require_keys,
    sha256,
    validate_canonical,
)
from .errors import CertificateInvalid, EncodingError, MalformedObject, NonCanonicalEncoding
from .genesis import Genesis
from .merkle import compute_merkle_root
from .tx import IDENT_RE, Transaction

BLOCK_VERSION = 1
VOTE_VERSION = 1
VOTE_SIGN_TAG = b"EVOTE-VOTE-V1:"
VoteKind = Literal["prevote", "precommit"]
VOTE_KINDS = ("prevote", "precommit")

_BLOCK_FIELDS = frozenset({"header", "txs"})
_HEADER_FIELDS = frozenset({"v", "chain", "height", "round", "prev", "time", "proposer", "txs", "tx_root", "state_root"})


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain: str
    height: int
    round: int
    prev: bytes
    time: int
    proposer: str
    txs: int
    tx_root: bytes
    state_root: bytes
    hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", sha256(encode(self.to_dict())))

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": BLOCK_VERSION,
            "chain": self.chain,
            "height": self.height,
            "round": self.round,
            "prev": self.prev.hex(),
            "time": self.time,
            "proposer": self.proposer,
            "txs": self.txs,
            "tx_root": self.tx_root.hex(),
            "state_root": self.state_root.hex(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "BlockHeader":
        obj = require_keys(data, _HEADER_FIELDS, "header")
        if obj["v"] != BLOCK_VERSION or type(obj["v"]) is not int:
            raise MalformedObject("unsupported block version", field="v")
        return cls(
            chain=read_str(obj, "chain", pattern=IDENT_RE),
            height=read_int(obj, "height", minimum=1),
            round=read_int(obj, "round"),
            prev=read_hex(obj, "prev", 32),
            time=read_int(obj, "time"),
            proposer=read_str(obj, "proposer", pattern=IDENT_RE),
            txs=read_int(obj, "txs"),
            tx_root=read_hex(obj, "tx_root", 32),
            state_root=read_hex(obj, "state_root", 32),
        )


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Transaction, ...]

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height

    def to_dict(self) -> dict[str, Any]:
        return {"header": self.header.to_dict(), "txs": [tx.to_dict() for tx in self.txs]}

    def to_bytes(self) -> bytes:
        return encode(self.to_dict())

    def computed_tx_root(self) -> bytes:
        return compute_merkle_root([tx.id for tx in self.txs])

    @classmethod
    def from_dict(cls, data: Any) -> "Block":
        obj = require_keys(data, _BLOCK_FIELDS, "block")
        if type(obj["txs"]) is not list:
            raise MalformedObject("txs must be a list", field="txs")
        return cls(BlockHeader.from_dict(obj["header"]), tuple(Transaction.from_dict(t) for t in obj["txs"]))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Block":
        """Decode a block; strictly canonical, like ``from_dict(decode(data))``.

        Hot path: the canonical check encodes the header and each transaction
        separately and compares their concatenation with ``data``, so each
        transaction's own bytes are at hand to hash its id (no second encoding).
        """
        value = parse(data)  # raises EncodingError for anything but bytes / bytearray
        data = bytes(data)
        txs = value.get("txs") if type(value) is dict and value.keys() == _BLOCK_FIELDS else None
        if type(txs) is not list or not all(type(tx) is dict for tx in txs):
            return cls.from_dict(decode(data))  # the slow path raises the usual errors
        validate_canonical(value)
        try:
            header_bytes = encode_unchecked(value["header"])
            tx_bytes = [encode_unchecked(tx) for tx in txs]
        except UnicodeEncodeError as exc:  # a lone surrogate, written as an escape
            raise EncodingError("string is not valid Unicode") from exc
        if b'{"header":' + header_bytes + b',"txs":[' + b",".join(tx_bytes) + b"]}" != data:
            raise NonCanonicalEncoding("bytes are not in canonical form")
        header = BlockHeader.from_dict(value["header"])
        return cls(header, tuple(Transaction.from_canonical(tx, raw) for tx, raw in zip(txs, tx_bytes)))


@dataclass(frozen=True, slots=True)
class Vote:
    """A signed prevote or precommit for a block id (``None`` = nil)."""

    chain: str
    kind: str
    height: int
    round: int
    block: bytes | None
    validator: str
    sig: bytes

    def body(self) -> dict[str, Any]:
        return {
            "v": VOTE_VERSION,
            "chain": self.chain,
            "kind": self.kind,
            "height": self.height,
            "round": self.round,
            "block": self.block.hex() if self.block is not None else None,
            "validator": self.validator,
        }

    def signing_message(self) -> bytes:
        return vote_signing_message(self.chain, self.kind, self.height, self.round, self.block, self.validator)

    def to_dict(self) -> dict[str, Any]:
        data = self.body()
        data["sig"] = self.sig.hex()
        return data

    def verify(self, genesis: Genesis, impl: crypto.CryptoImpl = "openssl") -> None:
        validator = genesis.validator(self.validator)
        if validator is None:
            raise CertificateInvalid("vote from a key that is not a validator", validator=self.validator)
        crypto.verify(validator.pubkey, self.sig, self.signing_message(), impl)

    @classmethod
    def from_dict(cls, data: Any) -> "Vote":
        obj = require_keys(data, frozenset({"v", "chain", "kind", "height", "round", "block", "validator", "sig"}), "vote")
        if obj["v"] != VOTE_VERSION or type(obj["v"]) is not int:
            raise MalformedObject("unsupported vote version", field="v")
        if obj["kind"] not in VOTE_KINDS:
            raise MalformedObject("kind must be prevote or precommit", field="kind")
        block = None if obj["block"] is None else read_hex(obj, "block", 32)
        return cls(
            chain=read_str(obj, "chain", pattern=IDENT_RE),
            kind=obj["kind"],
            height=read_int(obj, "height", minimum=1),
            round=read_int(obj, "round"),
            block=block,
            validator=read_str(obj, "validator", pattern=IDENT_RE),
            sig=read_hex(obj, "sig", crypto.SIGNATURE_SIZE),
        )


def vote_signing_message(chain: str, kind: str, height: int, round: int, block: bytes | None, validator: str) -> bytes:
    body = {
        "v": VOTE_VERSION,
        "chain": chain,
        "kind": kind,
        "height": height,
        "round": round,
        "block": block.hex() if block is not None else None,
        "validator": validator,
    }
    return VOTE_SIGN_TAG + sha256(encode(body))


def sign_vote(
    key: crypto.PrivateKey, *, chain: str, kind: str, height: int, round: int, block: bytes | None, validator: str
) -> Vote:
    sig = key.sign(vote_signing_message(chain, kind, height, round, block, validator))
    return Vote(chain, kind, height, round, block, validator, sig)


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Precommits for one block from more than 2/3 of the voting power."""

    height: int
    round: int
    block: bytes
    signatures: tuple[tuple[str, bytes], ...]  # (validator id, sig), sorted by id

    def to_dict(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "round": self.round,
            "block": self.block.hex(),
            "sigs": [{"validator": v, "sig": s.hex()} for v, s in self.signatures],
        }

    @classmethod
    def from_votes(cls, votes: list[Vote]) -> "CommitCertificate":
        if not votes:
            raise ValueError("a certificate needs at least one precommit")
        first = votes[0]
        if first.block is None:
            raise ValueError("a certificate needs precommits for a block, not nil")
        sigs = tuple(sorted((v.validator, v.sig) for v in votes))
        return cls(first.height, first.round, first.block, sigs)

    @classmethod
    def from_dict(cls, data: Any) -> "CommitCertificate":
        obj = require_keys(data, frozenset({"height", "round", "block", "sigs"}), "certificate")
        if type(obj["sigs"]) is not list:
            raise MalformedObject("sigs must be a list", field="sigs")
        sigs = []
        for item in obj["sigs"]:
            entry = require_keys(item, frozenset({"validator", "sig"}), "certificate signature")
            sigs.append((read_str(entry, "validator", pattern=IDENT_RE), read_hex(entry, "sig", crypto.SIGNATURE_SIZE)))
        return cls(read_int(obj, "height", minimum=1), read_int(obj, "round"), read_hex(obj, "block", 32), tuple(sigs))

    def verify(self, genesis: Genesis, header: BlockHeader, impl: crypto.CryptoImpl = "openssl") -> None:
        """Raise CertificateInvalid unless this certifies ``header`` with a quorum."""
        if self.block != header.hash or self.height != header.height:
            raise CertificateInvalid("certificate is for another block", height=header.height, field="block")
        ids = [v for v, _ in self.signatures]
        if ids != sorted(set(ids)):
            raise CertificateInvalid("signatures must be sorted by validator id without duplicates", height=header.height)
        power = 0
        for validator_id, sig in self.signatures:
            validator = genesis.validator(validator_id)
            if validator is None:
                raise CertificateInvalid("signature from a non-validator", height=header.height, validator=validator_id)
            message = vote_signing_message(header.chain, "precommit", self.height, self.round, self.block, validator_id)
            if not crypto.is_valid_signature(validator.pubkey, sig, message, impl):
                raise CertificateInvalid("bad precommit signature", height=header.height, validator=validator_id)
            power += validator.power
        if power < genesis.quorum_power():
            raise CertificateInvalid(
                "precommits do not reach more than 2/3 of the voting power",
                height=header.height,
                power=power,
                needed=genesis.quorum_power(),
            )
