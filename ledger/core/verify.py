"""Full-chain verification from genesis.

Re-derives every hash, Merkle root, signature, commit certificate and state
root, re-executes every transaction under the contract rules and recomputes
the tallies. Stops at the first failure and says exactly where it is (height,
transaction index and id, field, reason code), because an observer needs a
place to point at, not just "invalid".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from . import crypto
from .block import Block, CommitCertificate
from .errors import BlockInvalid, CertificateInvalid, LedgerError
from .genesis import Genesis
from .machine import Ledger


@dataclass(frozen=True)
class Failure:
    height: int
    code: str
    message: str
    field: str | None = None
    tx_index: int | None = None
    tx: str | None = None
    detail: dict[str, Any] = dataclass_field(default_factory=dict)

    def describe(self) -> str:
        where = f"height {self.height}"
        if self.tx_index is not None:
            where += f", transaction {self.tx_index} ({self.tx})"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.code}: {self.message}"


@dataclass
class VerifyReport:
    ok: bool
    height: int  # last height that verified
    head: str
    txs: int
    failure: Failure | None
    tallies: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "height": self.height,
            "head": self.head,
            "txs": self.txs,
            "failure": None if self.failure is None else {
                "height": self.failure.height, "code": self.failure.code, "message": self.failure.message,
                "field": self.failure.field, "tx_index": self.failure.tx_index, "tx": self.failure.tx,
            },
            "tallies": self.tallies,
        }


ChainItem = tuple[Block, CommitCertificate]


def _failure_from(exc: LedgerError, height: int) -> Failure:
    detail = dict(exc.detail)
    return Failure(
        height=int(detail.pop("height", height)),
        code=str(detail.pop("reason", exc.code)),
        message=exc.message,
        field=detail.pop("field", None),
        tx_index=detail.pop("tx_index", None),
        tx=detail.pop("tx", None),
        detail=detail,
    )


def verify_chain(
    genesis: Genesis,
    chain: Iterable[ChainItem],
    *,
    impl: crypto.CryptoImpl = "openssl",
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify blocks 1..n in order; the iterable may be lazy (streamed from disk)."""
    ledger = Ledger(genesis)
    txs = 0
    for expected_height, (block, cert) in enumerate(chain, start=1):
        try:
            if block.header.height != expected_height:
                raise BlockInvalid("blocks are not in height order", height=expected_height, field="height")
            for index, tx in enumerate(block.txs):
                try:
                    tx.verify_signature(impl)
                except LedgerError as exc:
                    raise BlockInvalid(f"transaction {index}: {exc.message}", height=expected_height, tx_index=index,
                                       tx=tx.id_hex, field="sig", reason=exc.code) from exc
            all_ids = frozenset(tx.id for tx in block.txs)
            pending = ledger.execute_block(block, verified=all_ids)
            try:
                cert.verify(genesis, block.header, impl)
            except CertificateInvalid as exc:
                raise CertificateInvalid(exc.message, **dict(exc.detail, height=expected_height, field="certificate")) from exc
            ledger.commit(pending)
        except LedgerError as exc:
            return _report(ledger, txs, _failure_from(exc, expected_height))
        txs += len(block.txs)
        if progress is not None:
            progress(expected_height)
    return _report(ledger, txs, None)


def compute_tallies(ledger: Ledger) -> dict[str, Any]:
    result = {}
    for key, record in ledger.state.scan("vote/e/"):
        result[record["id"]] = ledger.query("vote", "tally", {"election": record["id"]})
    return result


def _report(ledger: Ledger, txs: int, failure: Failure | None) -> VerifyReport:
    return VerifyReport(
        ok=failure is None, height=ledger.height, head=ledger.head_hash.hex(), txs=txs, failure=failure,
        tallies=compute_tallies(ledger),
    )
