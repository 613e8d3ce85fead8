"""Consensus messages and their wire envelope.

A proposal carries the whole block and is signed by the scheduled proposer
over ``EVOTE-PROPOSAL-V1:`` + SHA-256 of its canonical body (the block by id).
``pol_round`` is the round of the proof-of-lock when a locked block is
re-proposed (-1 for a fresh block), as in Tendermint. A ``CommitMessage``
hands a final block with its certificate to a peer that is behind.

On the wire every message is the canonical JSON of ``{"t": kind, "m": body}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import crypto
from ..block import Block, CommitCertificate, Vote
from ..encoding import decode, encode, read_hex, read_int, read_str, require_keys, sha256
from ..errors import CertificateInvalid, MalformedObject
from ..genesis import Genesis
from ..tx import IDENT_RE

PROPOSAL_VERSION = 1
PROPOSAL_SIGN_TAG = b"EVOTE-PROPOSAL-V1:"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def proposal_signing_message(chain: str, height: int, round: int, pol_round: int, block: bytes, proposer: str) -> bytes:
    body = {"v": PROPOSAL_VERSION, "chain": chain, "height": height, "round": round, "pol_round": pol_round,
            "block": block.hex(), "proposer": proposer}
    return PROPOSAL_SIGN_TAG + sha256(encode(body))


@dataclass(frozen=True)
class Proposal:
    chain: str
    height: int
    round: int
    pol_round: int
    block: Block
    proposer: str
    sig: bytes

    def signing_message(self) -> bytes:
        return proposal_signing_message(self.chain, self.height, self.round, self.pol_round, self.block.hash, self.proposer)

    def verify(self, genesis: Genesis, impl: crypto.CryptoImpl = "openssl") -> None:
        validator = genesis.validator(self.proposer)
        if validator is None:
            raise CertificateInvalid("proposal from a non-validator", proposer=self.proposer)
        crypto.verify(validator.pubkey, self.sig, self.signing_message(), impl)

    def to_dict(self) -> dict[str, Any]:
        return {"v": PROPOSAL_VERSION, "chain": self.chain, "height": self.height, "round": self.round,
                "pol_round": self.pol_round, "block": self.block.to_dict(), "proposer": self.proposer,
                "sig": self.sig.hex()}

    @classmethod
    def from_dict(cls, data: Any) -> "Proposal":
        obj = require_keys(data, frozenset({"v", "chain", "height", "round", "pol_round", "block", "proposer", "sig"}), "proposal")
        if obj["v"] != PROPOSAL_VERSION or type(obj["v"]) is not int:
            raise MalformedObject("unsupported proposal version", field="v")

        return cls(
            chain=read_str(obj, "chain", pattern=IDENT_RE),
            height=read_int(obj, "height", minimum=1),
            round=read_int(obj, "round"),
            pol_round=read_int(obj, "pol_round", minimum=-1),
            block=Block.from_dict(obj["block"]),
            proposer=read_str(obj, "proposer", pattern=IDENT_RE),
            sig=read_hex(obj, "sig", crypto.SIGNATURE_SIZE),
        )


def sign_proposal(key: crypto.PrivateKey, *, chain: str, height: int, round: int, pol_round: int, block: Block,
                  proposer: str) -> Proposal:
    sig = key.sign(proposal_signing_message(chain, height, round, pol_round, block.hash, proposer))
    return Proposal(chain, height, round, pol_round, block, proposer, sig)


@dataclass(frozen=True)
class CommitMessage:
    block: Block
    cert: CommitCertificate

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block.to_dict(), "cert": self.cert.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> "CommitMessage":
        obj = require_keys(data, frozenset({"block", "cert"}), "commit")
        return cls(Block.from_dict(obj["block"]), CommitCertificate.from_dict(obj["cert"]))


Message = Proposal | Vote | CommitMessage
_KINDS: dict[str, Any] = {"proposal": Proposal, "vote": Vote, "commit": CommitMessage}
_NAMES = {Proposal: "proposal", Vote: "vote", CommitMessage: "commit"}


def encode_message(message: Message) -> bytes:
    return encode({"t": _NAMES[type(message)], "m": message.to_dict()})


def decode_message(data: bytes) -> Message:
    """Strictly decode a wire message (raises LedgerError subclasses on bad input)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedObject("message too large", size=len(data))
    obj = require_keys(decode(data), frozenset({"t", "m"}), "message")
    kind = _KINDS.get(obj["t"]) if type(obj["t"]) is str else None
    if kind is None:
        raise MalformedObject("unknown message type", field="t")
    return kind.from_dict(obj["m"])  # type: ignore[no-any-return]
