"""Stateless admission checks, run in a thread pool before the state thread sees a transaction.

Decoding and signature verification need no ledger state, and OpenSSL releases the GIL
while it verifies, so they run in parallel threads. The state thread then only dry-runs
the transaction on its overlay (tens of microseconds), which keeps consensus messages from
queueing behind a burst of submissions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger.core.errors import LedgerError, MalformedObject, WrongChain
from ledger.core.tx import MAX_TX_BYTES, Transaction

from .frames import TXS, decode_frame


@dataclass(frozen=True)
class Checked:
    """A decoded transaction, whether its signature was verified here, or why it was refused."""

    tx: Transaction | None
    size: int
    signature_verified: bool = False
    error: LedgerError | None = None


def check_tx(tx: Transaction, size: int, chain: str, is_known: Callable[[bytes], bool]) -> Checked:
    """Chain and signature; a transaction this node already holds skips the signature check
    (admission then reports it as a duplicate without trusting these bytes)."""
    try:
        if tx.chain != chain:
            raise WrongChain("transaction is for another chain", chain=tx.chain)
        if is_known(tx.id):
            return Checked(tx, size)
        tx.verify_signature()
    except LedgerError as exc:
        return Checked(tx, size, error=exc)
    return Checked(tx, size, signature_verified=True)


def check_raw(raw: bytes, chain: str, is_known: Callable[[bytes], bool]) -> Checked:
    """One submitted transaction: strict canonical decoding, then ``check_tx``."""
    try:
        if len(raw) > MAX_TX_BYTES:
            raise MalformedObject("transaction too large", size=len(raw), limit=MAX_TX_BYTES)
        tx = Transaction.from_bytes(raw)
    except LedgerError as exc:
        return Checked(None, len(raw), error=exc)
    return check_tx(tx, len(raw), chain, is_known)


def check_raw_batch(raws: list[bytes], chain: str, is_known: Callable[[bytes], bool]) -> list[Checked]:
    return [check_raw(raw, chain, is_known) for raw in raws]


def check_txs_frame(data: bytes, chain: str, is_known: Callable[[bytes], bool]) -> list[Checked]:
    """A gossip frame: strict decoding of the whole frame, then each transaction (raises LedgerError)."""
    kind, txs = decode_frame(data)
    if kind != TXS:
        raise MalformedObject("expected a txs frame", field="t")
    return [check_tx(tx, len(tx.to_bytes()), chain, is_known) for tx in txs]


def looks_like_txs_frame(data: bytes) -> bool:
    """Cheap routing hint: canonical frames end with the kind, since "t" sorts after "m"."""
    return data.endswith(b',"t":"txs"}')
