"""The mempool: admitted transactions waiting for a block, in arrival order.

Admission decodes strictly, verifies the signature and dry-runs the transaction on the
committed state *plus the transactions already admitted* (a pending overlay), so a batch
``create, register, mint, open`` or a mint followed by a vote is admitted in one go, while
a second spend of a token is refused with ``token_already_spent``. After every commit the
overlay is rebuilt over the new state; transactions that no longer apply (the other spend
won in another node's block) are dropped and remembered as rejected with their code.

Pure Python, no Django and no I/O: the node runtime owns one instance and calls it from
its state thread only.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.core.block import Block
from ledger.core.errors import CryptoError, LedgerError, MalformedObject
from ledger.core.machine import Ledger
from ledger.core.state import Overlay
from ledger.core.tx import MAX_TX_BYTES, Transaction

from ..errors import MempoolFull

PENDING, COMMITTED, REJECTED, UNKNOWN = "pending", "committed", "rejected", "unknown"
DEFAULT_REJECTED_MEMORY = 100_000
REBUILD_EVERY = 32  # commits between full re-checks of the pending transactions (see on_commit)


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


@dataclass(frozen=True)
class Admission:
    """Outcome of submitting one transaction."""

    tx_id: str | None
    status: str  # pending | committed | rejected
    new: bool = False  # True when this call added it to the mempool
    error: LedgerError | MempoolFull | None = None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"id": self.tx_id, "status": self.status}
        if self.error is not None:
            data["code"] = self.error.code
            data["message"] = self.error.message
            data["detail"] = _plain(self.error.detail)
        return data


def _plain(detail: dict[str, object]) -> dict[str, object]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in detail.items()}


class Mempool:
    def __init__(self, ledger: Ledger, *, max_txs: int, rejected_memory: int = DEFAULT_REJECTED_MEMORY) -> None:
        self.ledger = ledger
        self.max_txs = max_txs
        self._pending: OrderedDict[bytes, tuple[Transaction, int]] = OrderedDict()  # id -> (tx, size)
        self._rejected: OrderedDict[bytes, Rejection] = OrderedDict()
        self._rejected_memory = rejected_memory
        self._overlay = Overlay(ledger.state)
        self._overlay_height = ledger.height
        self.pending_bytes = 0
        self._commits_since_rebuild = 0
        self._signers: Counter[bytes] = Counter()  # signer keys of the pending transactions
        self.newly_rejected: list[bytes] = []  # drained by the runtime to wake waiters

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._pending

    # --- admission ----------------------------------------------------------------------------

    def admit_bytes(self, data: bytes, *, now: int, remember_rejection: bool = True) -> tuple[Admission, Transaction | None]:
        """Decode one canonical transaction and admit it (signature checked here)."""
        try:
            if len(data) > MAX_TX_BYTES:
                raise MalformedObject("transaction too large", size=len(data), limit=MAX_TX_BYTES)
            tx = Transaction.from_bytes(data)
        except LedgerError as exc:
            return Admission(None, REJECTED, error=exc), None
        return self.admit(tx, now=now, size=len(data), remember_rejection=remember_rejection), tx

    def admit(
        self, tx: Transaction, *, now: int, size: int | None = None, remember_rejection: bool = True,
        signature_verified: bool = False,
    ) -> Admission:
        """Admit a decoded transaction; every refusal is returned, never raised.

        ``signature_verified`` means the caller verified these exact signature bytes
        (``admission.check_tx``); otherwise the dry run verifies them. A refusal is
        remembered (for status queries) only once the signature is known to be good, so
        nobody can mark another signer's transaction id as rejected with forged bytes.
        """
        tx_id = tx.id
        if tx_id in self._pending:
            return Admission(tx.id_hex, PENDING)
        if self.ledger.tx_height(tx_id) is not None:
            return Admission(tx.id_hex, COMMITTED)
        if len(self._pending) >= self.max_txs:
            return Admission(tx.id_hex, REJECTED, error=MempoolFull(detail={"max_txs": self.max_txs}))
        self._refresh_overlay(now)
        try:
            self.ledger.execute_tx(self._overlay, tx, height=self.ledger.height + 1, time=now,
                                   verify_signature=not signature_verified)
        except LedgerError as exc:
            if remember_rejection and not isinstance(exc, CryptoError):
                self._remember_rejection(tx_id, exc)
            return Admission(tx.id_hex, REJECTED, error=exc)
        self._rejected.pop(tx_id, None)
        self._pending[tx_id] = (tx, size if size is not None else len(tx.to_bytes()))
        self.pending_bytes += self._pending[tx_id][1]
        self._signers[tx.signer] += 1
        return Admission(tx.id_hex, PENDING, new=True)

    def _pop(self, tx_id: bytes) -> tuple[Transaction, int] | None:
        entry = self._pending.pop(tx_id, None)
        if entry is not None:
            self.pending_bytes -= entry[1]
            signer = entry[0].signer
            self._signers[signer] -= 1
            if not self._signers[signer]:
                del self._signers[signer]
        return entry

    def _remember_rejection(self, tx_id: bytes, exc: LedgerError) -> None:
        self._rejected[tx_id] = Rejection(exc.code, exc.message)
        self._rejected.move_to_end(tx_id)
        while len(self._rejected) > self._rejected_memory:
            self._rejected.popitem(last=False)
        self.newly_rejected.append(tx_id)

    # --- blocks -------------------------------------------------------------------------------

    def candidates(self, *, max_txs: int, max_bytes: int) -> list[Transaction]:
        """Transactions for a new block, in arrival order, within the block limits."""
        chosen: list[Transaction] = []
        total = 0
        for tx, size in self._pending.values():
            if len(chosen) >= max_txs or total + size > max_bytes:
                break
            chosen.append(tx)
            total += size
        return chosen

    def verified_ids(self, txs: Iterable[Transaction]) -> frozenset[tuple[bytes, bytes]]:
        """(id, signature) pairs of ``txs`` whose signature this mempool already checked.

        A transaction id does not cover the signature, so a proposer could pair a known id
        with garbage signature bytes; only an identical signature may skip verification.
        """
        result = []
        for tx in txs:
            entry = self._pending.get(tx.id)
            if entry is not None and entry[0].sig == tx.sig:
                result.append((tx.id, tx.sig))
        return frozenset(result)

    def reject(self, tx: Transaction, exc: LedgerError) -> None:
        """A block builder refused ``tx``: drop it and remember why."""
        if self._pop(tx.id) is not None:
            self._overlay_height = -1  # its writes are in the overlay: rebuild
        self._remember_rejection(tx.id, exc)

    def on_commit(self, block: Block, *, now: int) -> None:
        """Remove the block's transactions; re-check the rest only when the block may conflict with them.

        Re-executing every pending transaction after every block cost a fifth of a node's
        CPU under load, and under a backlog most of its state thread (docs/campaign.md: the
        more votes waited, the slower each commit). It is needed only when the block may
        have beaten a pending transaction: a block transaction this mempool did not have,
        signed by a key that also signs a pending one (the other spend of the same token
        won), or by an election authority (it may close an election or change what pending
        transactions rely on). Otherwise the overlay stays valid on top of the new state:

        - the block's transactions that were pending here are in the overlay already (it
          was built by executing all pending transactions), so every key reads its latest
          write, from the overlay or, for untouched keys, from the state;
        - a block transaction from another signer wrote that signer's own keys (its token,
          its credential), which no pending transaction wrote, so they read through to the
          new state; the keys it shares with pending ones are running counts (tallies,
          station totals) whose overlay copies are then short by its increments until the
          next rebuild. Short counts only let admission pass something the block builder
          will refuse (it runs every block afresh on the committed state); they never
          refuse a valid transaction, since the contracts cap counts from above only.

        Values that depend on the execution height (``tx/<id>``, ``opened_at``) may be stale
        in the overlay too, which is harmless for the same reason. A full rebuild still runs
        every ``REBUILD_EVERY`` commits, bounding the overlay's size and staleness.
        """
        foreign: list[Transaction] = []
        for tx in block.txs:
            if self._pop(tx.id) is None:
                foreign.append(tx)
        self._commits_since_rebuild += 1
        independent = all(not self.ledger.genesis.is_authority(tx.signer) and tx.signer not in self._signers
                          for tx in foreign)
        if not self._pending:
            self._overlay = Overlay(self.ledger.state)
            self._overlay_height = self.ledger.height
            self._commits_since_rebuild = 0
        elif (independent and self._overlay_height != -1 and self._commits_since_rebuild < REBUILD_EVERY
              and self._overlay.parent is self.ledger.state):
            self._overlay_height = self.ledger.height
        else:
            self._overlay_height = -1
            self._refresh_overlay(now)

    def _refresh_overlay(self, now: int) -> None:
        if self._overlay_height == self.ledger.height and self._overlay.parent is self.ledger.state:
            return
        overlay = Overlay(self.ledger.state)
        height = self.ledger.height + 1
        dropped = []
        for tx_id, (tx, _) in self._pending.items():
            try:
                self.ledger.execute_tx(overlay, tx, height=height, time=now, verify_signature=False)
            except LedgerError as exc:
                dropped.append((tx_id, exc))
        for tx_id, error in dropped:
            self._pop(tx_id)
            self._remember_rejection(tx_id, error)
        self._overlay = overlay
        self._overlay_height = self.ledger.height
        self._commits_since_rebuild = 0

    # --- reads --------------------------------------------------------------------------------

    def rejection(self, tx_id: bytes) -> Rejection | None:
        return self._rejected.get(tx_id)

    def snapshot(self) -> list[Transaction]:
        return [tx for tx, _ in self._pending.values()]

    def drain_newly_rejected(self) -> list[bytes]:
        drained, self.newly_rejected = self.newly_rejected, []
        return drained
