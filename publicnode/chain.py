"""Incremental verification of the chain on top of ``ledger.core``.

``ledger.core.verify.verify_chain`` checks a whole chain from genesis in one call; a follower
needs the same checks one block at a time, keeping the state between rounds. This does per
block what ``verify_chain`` does, in the same order (position, transaction signatures,
header rules and re-execution with the state root, certificate), and reports failures with
the same fields (``height``, ``field``, ``tx_index``, ``code``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.core.block import Block, CommitCertificate
from ledger.core.errors import BlockInvalid, CertificateInvalid, LedgerError
from ledger.core.genesis import Genesis
from ledger.core.machine import Ledger


@dataclass(frozen=True)
class VerifyFailure:
    """Where and why a block failed, as ``ledger.core`` reported it."""

    height: int
    code: str            # certificate_invalid, block_invalid, signature_invalid, ...
    message: str
    field: str | None
    tx_index: int | None
    tx: str | None
    detail: dict[str, Any]

    @property
    def is_certificate(self) -> bool:
        return self.field == "certificate" or self.code == CertificateInvalid.code


def failure_from(exc: LedgerError, height: int) -> VerifyFailure:
    detail = dict(exc.detail)
    reason = detail.pop("reason", None)
    code = str(reason) if reason else exc.code
    if isinstance(exc, CertificateInvalid):
        code = exc.code
    return VerifyFailure(height=int(detail.pop("height", height)), code=code, message=exc.message,
                         field=detail.pop("field", None), tx_index=detail.pop("tx_index", None),
                         tx=detail.pop("tx", None), detail={k: str(v) for k, v in detail.items()})


class VerifiedChain:
    """The verified state and the hashes of blocks 1..height, extended one checked block at a time."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.ledger = Ledger(genesis)
        self.hashes: list[bytes] = []       # hashes[h - 1] is the hash of block h
        self.state_roots: list[bytes] = []

    @property
    def height(self) -> int:
        return self.ledger.height

    @property
    def head_hash(self) -> bytes:
        return self.ledger.head_hash

    def hash_at(self, height: int) -> bytes | None:
        return self.hashes[height - 1] if 1 <= height <= len(self.hashes) else None

    def extend(self, block: Block, cert: CommitCertificate) -> VerifyFailure | None:
        """Verify ``block`` as the next block and commit it; on failure nothing changes."""
        expected = self.height + 1
        try:
            if block.header.height != expected:
                raise BlockInvalid("blocks are not in height order", height=expected, field="height")
            for index, tx in enumerate(block.txs):
                try:
                    tx.verify_signature()
                except LedgerError as exc:
                    raise BlockInvalid(f"transaction {index}: {exc.message}", height=expected, tx_index=index,
                                       tx=tx.id_hex, field="sig", reason=exc.code) from exc
            verified = frozenset((tx.id, tx.sig) for tx in block.txs)
            pending = self.ledger.execute_block(block, verified=verified)
            try:
                cert.verify(self.genesis, block.header)
            except CertificateInvalid as exc:
                raise CertificateInvalid(exc.message, **dict(exc.detail, height=expected, field="certificate")) from exc
            self.ledger.commit(pending)
        except LedgerError as exc:
            return failure_from(exc, expected)
        self.hashes.append(block.hash)
        self.state_roots.append(block.header.state_root)
        return None

    def check_certificate(self, cert: CommitCertificate, block: Block) -> VerifyFailure | None:
        """Another node's certificate for a block we verified: certificates may differ, both must be valid."""
        try:
            cert.verify(self.genesis, block.header)
        except CertificateInvalid as exc:
            return failure_from(CertificateInvalid(exc.message, **dict(exc.detail, field="certificate")), block.height)
        return None
