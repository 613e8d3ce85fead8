"""Full-chain verification from genesis.

Re-derives every hash, Merkle root, signature, commit certificate and state
root, re-executes every transaction under the contract rules and recomputes
the tallies. Stops at the first failure and says exactly where it is (height,
transaction index and id, field, reason code), because an observer needs a
place to point at, not just "invalid".
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
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
    workers: int = 1,
) -> VerifyReport:
    """Verify blocks 1..n in order; the iterable may be lazy (streamed from disk).

    ``workers > 1`` checks transaction signatures in that many worker processes, a few
    blocks ahead of the state machine, which stays in this process; the report
    (including the first failure) is the same as with ``workers=1``.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ledger = Ledger(genesis)
    txs = 0
    pool = _SignaturePool(workers, impl) if workers > 1 else None
    items: Iterable[tuple[Block, CommitCertificate, _PendingChecks | None]]
    if pool is not None:
        items = pool.read_ahead(chain)
    else:
        items = ((block, cert, None) for block, cert in chain)
    try:
        for expected_height, (block, cert, checks) in enumerate(items, start=1):
            try:
                if block.header.height != expected_height:
                    raise BlockInvalid("blocks are not in height order", height=expected_height, field="height")
                _verify_signatures(block, expected_height, impl, checks)
                all_checked = frozenset((tx.id, tx.sig) for tx in block.txs)
                pending = ledger.execute_block(block, verified=all_checked)
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
    finally:
        if pool is not None:
            pool.close()
    return _report(ledger, txs, None)


def _verify_signatures(block: Block, height: int, impl: crypto.CryptoImpl, checks: "_PendingChecks | None") -> None:
    """Raise BlockInvalid (field "sig") for the first transaction whose signature fails."""
    if checks is None:
        for index, tx in enumerate(block.txs):
            try:
                tx.verify_signature(impl)
            except LedgerError as exc:
                raise BlockInvalid(f"transaction {index}: {exc.message}", height=height, tx_index=index,
                                   tx=tx.id_hex, field="sig", reason=exc.code) from exc
        return
    bad = checks.first_failure()
    if bad is not None:
        index, code, message = bad
        raise BlockInvalid(f"transaction {index}: {message}", height=height, tx_index=index,
                           tx=block.txs[index].id_hex, field="sig", reason=code)


# --- signature checks in worker processes ------------------------------------------

SignatureItem = tuple[bytes, bytes, bytes]  # signer, signature, signed message
SignatureFailure = tuple[int, str, str]  # position in the batch, error code, message


def check_signature_batch(items: list[SignatureItem], impl: crypto.CryptoImpl) -> list[SignatureFailure]:
    """Every failing signature of a batch (runs in a worker process)."""
    failures = []
    for position, (signer, sig, message) in enumerate(items):
        try:
            crypto.verify(signer, sig, message, impl)
        except LedgerError as exc:
            failures.append((position, exc.code, exc.message))
    return failures


@dataclass
class _PendingChecks:
    """One block's share of submitted signature batches: (future, first position, count)."""

    parts: list[tuple["Future[list[SignatureFailure]]", int, int]]

    def first_failure(self) -> SignatureFailure | None:
        offset = 0
        for future, start, count in self.parts:
            for position, code, message in future.result():
                if start <= position < start + count:
                    return offset + position - start, code, message
            offset += count
        return None


class _SignaturePool:
    """Submits signatures in batches of ``BATCH`` across block boundaries, ``AHEAD`` ahead."""

    BATCH = 256

    def __init__(self, workers: int, impl: crypto.CryptoImpl) -> None:
        # "spawn": a fork of a process holding threads or sockets (the node runtime) is unsafe.
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self.impl = impl
        self.ahead = 8 * workers * self.BATCH

    def read_ahead(self, chain: Iterable[ChainItem]) -> Iterator[tuple[Block, CommitCertificate, _PendingChecks]]:
        window: deque[tuple[Block, CommitCertificate, _PendingChecks]] = deque()
        batch: list[SignatureItem] = []
        waiting: list[tuple[_PendingChecks, int, int]] = []  # parts of the unsubmitted batch
        queued = 0

        def submit() -> None:
            nonlocal batch, waiting
            if batch:
                future = self.executor.submit(check_signature_batch, batch, self.impl)
                for checks, start, count in waiting:
                    checks.parts.append((future, start, count))
            batch, waiting = [], []

        for block, cert in chain:
            checks = _PendingChecks([])
            txs = block.txs
            done = 0
            while done < len(txs):
                take = min(self.BATCH - len(batch), len(txs) - done)
                waiting.append((checks, len(batch), take))
                batch.extend((tx.signer, tx.sig, tx.signing_message()) for tx in txs[done:done + take])
                done += take
                if len(batch) >= self.BATCH:
                    submit()
            window.append((block, cert, checks))
            queued += len(txs)
            while queued > self.ahead:
                item = window.popleft()
                if any(pending is item[2] for pending, _, _ in waiting):
                    submit()  # only when the block's own signatures are still unsent
                queued -= len(item[0].txs)
                yield item
        submit()
        while window:
            yield window.popleft()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


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
