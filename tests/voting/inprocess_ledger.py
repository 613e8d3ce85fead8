"""A one-validator ledger running the real state machine in this process, one block per commit call.

Service tests use it as the gateway's transport: every vote-contract rule (authority,
mint limits, one check-in per id, open/close) is enforced by the real contract code, only
the network and consensus are left out. The gateway's own tests use a real node instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.core.contracts import contract_source_sha256, registered_ids
from ledger.core.crypto import PrivateKey
from ledger.core.errors import LedgerError
from ledger.core.genesis import Authority, ContractPin, Genesis, Validator
from ledger.core.machine import Ledger
from ledger.core.tx import Transaction
from voting.errors import LedgerRejected, LedgerUnavailable
from voting.ledger_gateway import CommitOutcome, TxInfo

CHAIN_ID = "evote-inprocess"


class InProcessTransport:
    """LedgerTransport over an in-memory ``Ledger``; ``offline = True`` simulates an unreachable network."""

    def __init__(self, authority_key: PrivateKey) -> None:
        validator_key = PrivateKey.generate()
        self.genesis = Genesis(
            chain=CHAIN_ID,
            time=int(time.time() * 1000) - 86_400_000,
            validators=(Validator("v1", "validator", validator_key.public_key, 1),),
            authorities=(Authority("commission", "Election commission", authority_key.public_key),),
            contracts=tuple(ContractPin(cid, contract_source_sha256(cid)) for cid in registered_ids()),
            params={},
        )
        self.ledger = Ledger(self.genesis)
        self.committed: list[Transaction] = []
        self.rejections: dict[str, str] = {}  # tx id hex -> code of its last rejection
        self.block_hashes: dict[int, str] = {}
        self.offline = False
        self.clock_ms: int | None = None  # fixed block time for tests; None = wall clock

    def get_chain_id(self) -> str:
        return CHAIN_ID

    def _block_time(self) -> int:
        now = self.clock_ms if self.clock_ms is not None else int(time.time() * 1000)
        return max(now, self.ledger.head_time + 1)

    def commit(self, txs: Sequence[Transaction], timeout_s: float) -> list[CommitOutcome]:
        if self.offline:
            raise LedgerUnavailable(detail={"reason": "offline"})
        result = self.ledger.build_block(txs, proposer=self.genesis.proposer_for(self.ledger.height + 1, 0).id,
                                         round=0, time=self._block_time())
        rejected = {tx.id: exc for tx, exc in result.rejected}
        if result.pending.block.txs:
            self.ledger.commit(result.pending)
            self.committed.extend(result.pending.block.txs)
            self.block_hashes[self.ledger.height] = result.pending.block.header.hash.hex()
        height = self.ledger.height
        outcomes = []
        for tx in txs:
            exc = rejected.get(tx.id)
            if exc is None:
                outcomes.append(CommitOutcome(tx.id_hex, True, height))
            else:
                self.rejections[tx.id_hex] = exc.code
                outcomes.append(CommitOutcome(tx.id_hex, False, None, exc.code, exc.message))
        return outcomes

    def tx_status(self, tx_id: str) -> TxInfo:
        if self.offline:
            raise LedgerUnavailable(detail={"reason": "offline"})
        height = self.ledger.tx_height(bytes.fromhex(tx_id))
        if height is not None:
            return TxInfo(tx_id, "committed", height, self.block_hashes.get(height))
        if tx_id in self.rejections:
            return TxInfo(tx_id, "rejected", code=self.rejections[tx_id])
        return TxInfo(tx_id, "unknown")

    def query(self, contract: str, name: str, args: dict[str, Any]) -> Any:
        if self.offline:
            raise LedgerUnavailable(detail={"reason": "offline"})
        try:
            return self.ledger.query(contract, name, args)
        except LedgerError as exc:
            raise LedgerRejected(detail={"reason": exc.code, "message": exc.message}) from exc

    def iter_transactions(self, contract: str, tx_type: str | tuple[str, ...]) -> Iterable[Transaction]:
        types = (tx_type,) if isinstance(tx_type, str) else tx_type
        return [tx for tx in self.committed if tx.contract == contract and tx.type in types]
