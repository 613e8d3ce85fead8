"""An in-memory Application (real Ledger + ordered mempool) and a signed vote workload.

Shared by the consensus unit tests and the simulator: both need a state
machine that behaves like a node's (real execution, real signatures, replay
protection) without Django or a database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .. import crypto
from ..block import Block, CommitCertificate
from ..contracts import contract_source_sha256
from ..contracts.vote import candidate_address
from ..errors import LedgerError, TxReplayed
from ..genesis import Authority, ContractPin, Genesis, Validator
from ..machine import Ledger, PendingBlock
from ..tx import Transaction, make_tx

SIM_CHAIN = "evote-sim"
SIM_GENESIS_TIME = 1_767_225_600_000
DEFER_LIMIT = 50  # heights a failing transaction may wait before it is dropped


def key_for(label: str) -> crypto.PrivateKey:
    """A fixed key from a label, so every run sees the same validators and voters."""
    return crypto.PrivateKey.from_secret(hashlib.sha256(b"evote-sim-key:" + label.encode()).digest())


@dataclass
class SimNetwork:
    """A genesis plus the private keys behind it."""

    genesis: Genesis
    keys: dict[str, crypto.PrivateKey]
    authority: crypto.PrivateKey

    @property
    def ids(self) -> list[str]:
        return [v.id for v in self.genesis.validators]


def make_sim_network(n: int, *, chain: str = SIM_CHAIN, powers: list[int] | None = None,
                     params: dict[str, int] | None = None) -> SimNetwork:
    """Genesis with ``n`` validators (equal power unless given), one authority, system+vote pinned."""
    keys = {f"v{i}": key_for(f"validator-{i}") for i in range(n)}
    authority = key_for("authority")
    validators = tuple(
        Validator(id=vid, name=f"Node {vid}", pubkey=key.public_key, power=(powers[i] if powers else 1))
        for i, (vid, key) in enumerate(keys.items())
    )
    genesis = Genesis(
        chain=chain, time=SIM_GENESIS_TIME, validators=validators,
        authorities=(Authority(id="commission", name="Election commission", pubkey=authority.public_key),),
        contracts=tuple(ContractPin(id=c, source_sha256=contract_source_sha256(c)) for c in ("system", "vote")),
        params=dict(params or {}),
    )
    return SimNetwork(genesis, keys, authority)


class MemoryApp:
    """The engine's Application over a real ``Ledger`` and an insertion-ordered mempool."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.ledger = Ledger(genesis)
        self.mempool: dict[bytes, Transaction] = {}
        self.deferred: dict[bytes, int] = {}  # tx id -> height at which it last failed to apply
        self.blocks: list[tuple[Block, CommitCertificate]] = []
        self._pending: dict[bytes, PendingBlock] = {}

    @property
    def height(self) -> int:
        return self.ledger.height

    @property
    def head_time(self) -> int:
        return self.ledger.head_time

    def add_tx(self, tx: Transaction) -> bool:
        """Admit a signed transaction not yet on chain; False if known or badly signed."""
        if tx.id in self.mempool or self.ledger.tx_height(tx.id) is not None:
            return False
        try:
            tx.verify_signature()
        except LedgerError:
            return False
        self.mempool[tx.id] = tx
        return True

    def _candidates(self) -> list[Transaction]:
        return [tx for tx_id, tx in self.mempool.items() if self.deferred.get(tx_id) != self.ledger.height]

    def has_pending_txs(self) -> bool:
        return bool(self._candidates())

    def propose_block(self, height: int, round: int, time: int) -> Block | None:
        """Build from the mempool; failing txs wait for the next height (they may depend on one)."""
        candidates = self._candidates()
        if height != self.ledger.height + 1 or not candidates:
            return None
        proposer = self.genesis.proposer_for(height, round).id
        result = self.ledger.build_block(candidates, proposer=proposer, round=round, time=time,
                                         verified={(tx.id, tx.sig) for tx in candidates})
        for tx, error in result.rejected:
            if isinstance(error, TxReplayed):
                self.mempool.pop(tx.id, None)
            else:
                self.deferred[tx.id] = self.ledger.height
        block = result.pending.block
        if not block.txs:
            return None
        self._pending[block.hash] = result.pending
        return block

    def _verified_ids(self, block: Block) -> set[tuple[bytes, bytes]]:
        """(id, signature) pairs of the block we checked at admission (the id alone excludes the signature)."""
        return {(tx.id, tx.sig) for tx in block.txs
                if (known := self.mempool.get(tx.id)) is not None and known.sig == tx.sig}

    def validate_block(self, block: Block) -> bool:
        if block.hash in self._pending:
            return True
        try:
            pending = self.ledger.execute_block(block, verified=self._verified_ids(block))
        except LedgerError:
            return False
        self._pending[block.hash] = pending
        return True

    def commit_block(self, block: Block, cert: CommitCertificate) -> None:
        pending = self._pending.get(block.hash)
        if pending is None:
            pending = self.ledger.execute_block(block, verified=self._verified_ids(block))
        self.ledger.commit(pending)
        self._pending.clear()
        for tx in block.txs:
            self.mempool.pop(tx.id, None)
            self.deferred.pop(tx.id, None)
        self._drop_stale()
        self.blocks.append((block, cert))

    def _drop_stale(self) -> None:
        stale = [tx_id for tx_id, at in self.deferred.items() if self.ledger.height - at > DEFER_LIMIT]
        for tx_id in stale:
            self.mempool.pop(tx_id, None)
            del self.deferred[tx_id]


class VoteWorkload:
    """Signed vote-contract transactions in dependency phases: create, register, mint, open, then votes.

    A client only sends a phase once the previous one is on chain (a voter
    cannot vote before the election opens), so every transaction is valid
    when it is proposed and must be committed exactly once.
    """

    def __init__(self, network: SimNetwork, *, voters: int, election: str = "e1", label: str = "") -> None:
        self.network = network
        self.election = election
        self.voter_keys = [key_for(f"voter-{label}-{i}") for i in range(voters)]
        self.candidates = ["alice", "bob", "carol"]

    def _authority_tx(self, type: str, payload: dict[str, object], nonce: int = 0) -> Transaction:
        return make_tx(self.network.authority, chain=self.network.genesis.chain, contract="vote", type=type,
                       payload=payload, nonce=nonce)

    def phases(self) -> list[list[Transaction]]:
        """The transaction batches, in the order they must be committed."""
        election = self.election
        create = self._authority_tx("create", {
            "election": election, "title": "Simulated election", "opens_at": 0, "closes_at": 2**52,
            "candidates": [{"id": c, "name": c.title()} for c in self.candidates],
        })
        register = self._authority_tx("register", {"election": election, "station": "st1",
                                                   "voters": len(self.voter_keys)})
        mint = self._authority_tx("mint", {"election": election, "station": "st1",
                                           "tokens": [k.address for k in self.voter_keys]})
        open_ = self._authority_tx("open", {"election": election})
        votes = [
            make_tx(key, chain=self.network.genesis.chain, contract="vote", type="transfer",
                    payload={"election": election, "to": candidate_address(election, self.candidates[i % 3])})
            for i, key in enumerate(self.voter_keys)
        ]
        return [[create], [register], [mint], [open_], votes]
