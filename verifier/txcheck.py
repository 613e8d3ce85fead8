"""Transaction lines checked in bulk, in worker processes: canonical bytes, fields, id, signature.

This is the expensive, order-independent part of verification (most of it is the ECDSA
equation), so it runs in a process pool a few batches ahead of the state machine, which
stays in the main process and only consumes each transaction's id and verdict.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from . import canonical, signatures
from .errors import Invalid
from .objects import HEX64, TX_TAG, Tx, check_tx_fields, is_hex
from .signatures import CryptoImpl

TX_RECORD_KEYS = frozenset({"height", "id", "index", "t", "tx"})
TX_MARK = b',"t":"tx","tx":'
SIG_MARK = b',"sig":"'
SIGNATURE_CODES = frozenset({"signature_malformed", "signature_high_s", "public_key_invalid", "signature_invalid"})
# A checked transaction: (id, chain, contract, type, payload, signer hex, sender address).
CheckedTx = tuple[bytes, str, str, str, dict[str, Any], str, str]
# (position in the batch, code, message, field)
LineFailure = tuple[int, str, str, str]
BatchResult = tuple[list[CheckedTx | None], list[LineFailure]]
# One line and where it stands (height, index in the block).
LineItem = tuple[bytes, int, int]
# Lines of a batch that belong to one block: (height, index in the block of the first, count).
Segment = tuple[int, int, int]


def body_bytes(raw: bytes) -> bytes:
    """The canonical body of a canonical transaction line: its ``tx`` object without the ``sig`` member.

    The line is canonical, so its ``tx`` object is written exactly as ``canonical(tx)`` after
    the record's earlier keys, and ``sig`` is its last member written with a raw ``,"sig":"``
    (only ``signer``, ``type`` and ``v`` follow, none of which can contain that text; a
    string never contains a raw quote). Cutting it out gives ``canonical(body)`` without
    re-encoding; ``tests/verifier`` checks the equality against the plain definition.
    """
    tx = raw[raw.index(TX_MARK) + len(TX_MARK):-1]
    cut = tx.rindex(SIG_MARK)
    return tx[:cut] + tx[cut + len(SIG_MARK) + 129:]


def check_tx_structure(raw: bytes, height: int, index: int, impl: CryptoImpl) -> tuple[CheckedTx, bytes, bytes, int, int]:
    """Every check of a transaction line before the ECDSA equation, in the protocol's order.

    Returns the checked transaction and what the equation still needs (key, message, r, s);
    raises ``Invalid`` naming the field at the first failing check.
    """
    record = canonical.decode(raw)
    if type(record) is not dict or record.keys() != TX_RECORD_KEYS or record["t"] != "tx":
        raise Invalid("bundle_record_invalid", "a transaction line has exactly height, id, index, t, tx", field="txs")
    if record["height"] != height or record["index"] != index:
        raise Invalid("bundle_record_invalid", f"the transaction line is filed as block {str(record['height'])[:20]} "
                      f"index {str(record['index'])[:20]}", field="txs")
    value = record["tx"]
    check_tx_fields(value)
    tx_id = hashlib.sha256(body_bytes(raw)).digest()
    if not is_hex(record["id"], HEX64) or record["id"] != tx_id.hex():
        raise Invalid("tx_id_mismatch", "the stored transaction id is not the SHA-256 of the stored body", field="id")
    signer = bytes.fromhex(value["signer"])
    r, s = signatures.check_signature_form(bytes.fromhex(value["sig"]))
    if impl == "cryptography":
        signatures.check_key_shape(signer)  # OpenSSL's point decoding checks the curve equation
    else:
        signatures.check_public_key(signer)
    checked = (tx_id, value["chain"], value["contract"], value["type"], value["payload"], value["signer"],
               signatures.address_of(signer))
    return checked, signer, TX_TAG + tx_id, r, s


def check_tx_line(item: LineItem, impl: CryptoImpl) -> CheckedTx:
    """A good transaction line's id and fields, else ``Invalid`` naming the field (one line, all checks)."""
    raw, height, index = item
    checked, signer, message, r, s = check_tx_structure(raw, height, index, impl)
    if not signatures.backend(impl)(signer, r, s, message):
        raise Invalid("signature_invalid", "the signature does not verify for this key and message")
    return checked


def _failure(position: int, exc: Invalid) -> LineFailure:
    field = "sig" if exc.code in SIGNATURE_CODES and exc.field in (None, "signer") else (exc.field or "txs")
    return position, exc.code, exc.message, field


def check_batch(blob: bytes, segments: list[Segment], impl: CryptoImpl) -> BatchResult:
    """The checked transactions of a batch (None where failing) and the failures, by position.

    ``blob`` is the batch's lines joined by newlines (a line never holds one) and ``segments``
    says where they stand: (height, index in the block of the first, count). Two passes: the
    decoding and field checks of every line, then the ECDSA equations back to back. Each
    line still gets the first failing check in the protocol's order (the equation is its
    last), but OpenSSL's tables stay in the CPU cache between equations instead of being
    evicted by the JSON work: about 20 us less per vote on this machine.
    """
    lines = blob.split(b"\n")
    good: list[CheckedTx | None] = []
    failures: list[LineFailure] = []
    equations: list[tuple[int, bytes, bytes, int, int]] = []
    position = 0
    for height, first, count in segments:
        for index in range(first, first + count):
            try:
                checked, signer, message, r, s = check_tx_structure(lines[position], height, index, impl)
            except Invalid as exc:
                good.append(None)
                failures.append(_failure(position, exc))
            else:
                good.append(checked)
                equations.append((position, signer, message, r, s))
            position += 1
    equation = signatures.backend(impl)
    bad: list[LineFailure] = []
    for position, signer, message, r, s in equations:
        try:
            if equation(signer, r, s, message):
                continue
            refused = Invalid("signature_invalid", "the signature does not verify for this key and message")
        except Invalid as raised:  # public_key_invalid from OpenSSL's point decoding
            refused = raised
        good[position] = None
        bad.append(_failure(position, refused))
    if bad:
        failures = sorted(failures + bad)
    return good, failures


class Checked:
    """One block's share of checked batches, resolved on demand."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[tuple[Future[BatchResult] | BatchResult, int, int]] = []

    def results(self) -> tuple[list[Tx], LineFailure | None]:
        """(transactions in block order up to the first failure, that failure with its index in the block)."""
        txs: list[Tx] = []
        for part, start, count in self.parts:
            good, failures = part.result() if isinstance(part, Future) else part
            for position, code, message, field in failures:
                if start <= position < start + count:
                    done = [Tx(c[1], c[2], c[3], c[4], c[5], b"", c[0], c[6])
                            for c in good[start:position] if c is not None]
                    return txs + done, (len(txs) + len(done), code, message, field)
            txs.extend(Tx(c[1], c[2], c[3], c[4], c[5], b"", c[0], c[6])
                       for c in good[start:start + count] if c is not None)
        return txs, None


class TxChecker:
    """Runs ``check_batch`` inline (one worker) or in a pool, reading ahead across blocks."""

    BATCH = 1000

    def __init__(self, impl: CryptoImpl, workers: int) -> None:
        self.impl = impl
        self.executor: ProcessPoolExecutor | None = None
        if workers > 1:
            # "spawn": forking a process that holds threads (a test server, a node) is unsafe.
            self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self.ahead = max(1, workers) * 4 * self.BATCH

    def run(self, units: Iterable[Any]) -> Iterator[tuple[Any, Checked]]:
        """Each unit (with ``tx_lines``) paired with its checks, yielded in order."""
        if self.executor is None:
            for unit in units:
                checked = Checked()
                lines = unit.tx_lines
                if lines:
                    result = check_batch(b"\n".join(lines), [(unit.height, 0, len(lines))], self.impl)
                    checked.parts.append((result, 0, len(lines)))
                yield unit, checked
            return
        window: deque[tuple[Any, Checked]] = deque()
        batch: list[bytes] = []  # raw lines, sent joined as one bytes object
        segments: list[Segment] = []
        waiting: list[tuple[Checked, int, int]] = []
        queued = 0

        def submit() -> None:
            nonlocal batch, segments, waiting
            if batch and self.executor is not None:
                future = self.executor.submit(check_batch, b"\n".join(batch), segments, self.impl)
                for checked, start, count in waiting:
                    checked.parts.append((future, start, count))
            batch, segments, waiting = [], [], []

        for unit in units:
            checked = Checked()
            lines = unit.tx_lines
            done = 0
            while done < len(lines):
                take = min(self.BATCH - len(batch), len(lines) - done)
                waiting.append((checked, len(batch), take))
                segments.append((unit.height, done, take))
                batch.extend(lines[done:done + take])
                done += take
                if len(batch) >= self.BATCH:
                    submit()
            window.append((unit, checked))
            queued += len(lines) + 1
            while queued > self.ahead:
                item = window.popleft()
                if any(pending is item[1] for pending, _, _ in waiting):
                    submit()
                queued -= len(item[0].tx_lines) + 1
                yield item
        submit()
        while window:
            yield window.popleft()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
