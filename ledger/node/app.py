"""The consensus engine's Application: the in-memory ledger plus the mempool.

Executed-but-uncommitted blocks are cached by hash, so a block this node proposed or
validated is not executed a second time when it commits. Every cached block sits on top
of the committed state, so the cache is cleared whenever any block commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ledger.core.block import Block, CommitCertificate
from ledger.core.errors import BlockInvalid, LedgerError
from ledger.core.machine import Ledger, PendingBlock

from .mempool import Mempool

logger = logging.getLogger(__name__)
BLOCK_BYTES_HEADROOM = 4096  # header and envelope around the transactions


def wall_ms() -> int:
    return int(time.time() * 1000)


class NodeApplication:
    """Implements ledger.core.consensus.interface.Application."""

    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        *,
        validator_id: str,
        clock: Callable[[], int] = wall_ms,
        on_commit: Callable[[Block, CommitCertificate], None] | None = None,
        max_proposal_txs: int | None = None,
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.validator_id = validator_id
        self.clock = clock
        self.on_commit = on_commit
        self.max_proposal_txs = max_proposal_txs  # None: up to the genesis max_block_txs
        self.block_hashes: list[bytes] = []  # index h-1 -> hash of block h
        self._executed: dict[bytes, PendingBlock] = {}

    @property
    def height(self) -> int:
        return self.ledger.height

    @property
    def head_time(self) -> int:
        return self.ledger.head_time

    def has_pending_txs(self) -> bool:
        return len(self.mempool) > 0

    def propose_block(self, height: int, round: int, time: int) -> Block | None:
        if height != self.ledger.height + 1 or not len(self.mempool):
            return None
        genesis = self.ledger.genesis
        max_txs = genesis.param("max_block_txs")
        if self.max_proposal_txs is not None:
            max_txs = min(max_txs, self.max_proposal_txs)
        candidates = self.mempool.candidates(
            max_txs=max_txs,
            max_bytes=genesis.param("max_block_bytes") - BLOCK_BYTES_HEADROOM,
        )
        result = self.ledger.build_block(
            candidates, proposer=self.validator_id, round=round, time=time,
            verified=frozenset((tx.id, tx.sig) for tx in candidates),
        )
        for tx, exc in result.rejected:
            logger.info("block builder dropped tx %s: %s", tx.id_hex, exc.code)
            self.mempool.reject(tx, exc)
        block = result.pending.block
        if not block.txs:
            return None
        self._executed[block.hash] = result.pending
        return block

    def validate_block(self, block: Block) -> bool:
        if block.hash in self._executed:
            return True
        try:
            pending = self.ledger.execute_block(block, verified=self.mempool.verified_ids(block.txs))
        except LedgerError as exc:
            logger.warning("invalid block %s at height %s: %s %s", block.hash.hex()[:12], block.height, exc.code,
                           exc.message)
            return False
        self._executed[block.hash] = pending
        return True

    def commit_block(self, block: Block, cert: CommitCertificate) -> None:
        pending = self._executed.pop(block.hash, None)
        if pending is None:
            pending = self.ledger.execute_block(block, verified=self.mempool.verified_ids(block.txs))
        self._executed.clear()
        self.ledger.commit(pending)
        self.block_hashes.append(block.hash)
        self.mempool.on_commit(block, now=self.clock())
        if self.on_commit is not None:
            self.on_commit(block, cert)

    # --- used by sync (blocks fetched from a peer) ------------------------------------------

    def verify_and_commit(self, block: Block, cert: CommitCertificate) -> None:
        """Fully check a block from an untrusted source (certificate and execution), then commit."""
        header = block.header
        if header.height != self.ledger.height + 1:
            raise BlockInvalid("block does not extend the head", height=header.height, field="height")
        cert.verify(self.ledger.genesis, header)
        self.commit_block(block, cert)

    def block_hash_at(self, height: int) -> bytes | None:
        if 1 <= height <= len(self.block_hashes):
            return self.block_hashes[height - 1]
        return None
