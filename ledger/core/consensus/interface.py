"""The contract between the consensus engine and the node runtime (sans-I/O).

The engine never touches a socket, a clock or a database. The runtime feeds it
messages and the time, and carries out what it returns:

    engine = Engine(genesis, app, validator_id="suwon", key=key,
                    signer_state=stored_state, config=ConsensusConfig(), now=now_ms)
    outputs = engine.start(now)                  # after construction
    outputs = engine.receive(message, sender, now)  # a peer's message
    outputs = engine.tick(now)                   # when now >= engine.next_deadline()
    outputs = engine.txs_available(now)          # the mempool gained transactions

Every call returns a list of outputs, in order:
  PersistSignerState(state)  -> write it durably BEFORE sending anything after it
  Broadcast(message)         -> send to every peer
  SendTo(peer_id, message)   -> send to one peer
  Committed(block, cert)     -> the block is final: persist it (the app's
                                in-memory ledger has already advanced)
  Evidence(vote_a, vote_b)   -> a validator equivocated; submit a system
                                ``evidence`` transaction through the mempool
  RequestSync(peer_id, from_height) -> we are behind; fetch blocks from a peer

Messages are ``Proposal``, ``Vote`` (ledger.core.block) and ``CommitMessage``
(a final block with its certificate, sent to peers that are behind). All
times are integer milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..block import Block, CommitCertificate, Vote


class Application(Protocol):
    """What the engine needs from the state machine and the mempool."""

    @property
    def height(self) -> int:
        """Height of the last committed block (0 before block 1)."""

    @property
    def head_time(self) -> int:
        """Time of the last committed block (genesis time before block 1)."""

    def has_pending_txs(self) -> bool:
        """True when the mempool holds transactions to propose (no empty blocks)."""

    def propose_block(self, height: int, round: int, time: int) -> Block | None:
        """Build a block from the mempool for ``height``; None if nothing to include."""

    def validate_block(self, block: Block) -> bool:
        """Execute a proposed block on the committed state; True if it is valid."""

    def commit_block(self, block: Block, cert: CommitCertificate) -> None:
        """Advance the in-memory ledger (the block was validated before)."""


@dataclass(frozen=True)
class SignerState:
    """The last vote/proposal this validator signed; guards against double signing after a crash.

    The lock fields (optional, appended compatibly) carry the Tendermint lock
    at that height. ``locked_round``/``locked_block``: a validator that forgot
    its lock after a restart could prevote a conflicting block and help break
    agreement. ``lock_block``/``lock_votes`` (the block and the 2/3+ prevotes
    that locked it): without them a restarted validator cannot re-propose or
    prove its lock, and with one Byzantine peer the height can stall forever
    (found by the simulator). All appear in ``to_dict`` only while a lock is
    held, so unlocked states keep the original four-key form;
    ``SignerState.from_dict(state.to_dict()) == state``.
    """

    height: int
    round: int
    step: int  # 1 proposal, 2 prevote, 3 precommit
    block: str | None  # hex id signed at that step (None = nil)
    locked_round: int = -1
    locked_block: str | None = None
    lock_block: Block | None = None
    lock_votes: tuple[Vote, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"height": self.height, "round": self.round, "step": self.step, "block": self.block}
        if self.locked_round >= 0:
            data["locked_round"] = self.locked_round
            data["locked_block"] = self.locked_block
            if self.lock_block is not None:
                data["lock_block"] = self.lock_block.to_dict()
                data["lock_votes"] = [vote.to_dict() for vote in self.lock_votes]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignerState:
        """Read the form written by ``to_dict`` (with or without the lock keys)."""
        block = data.get("lock_block")
        return cls(
            data["height"], data["round"], data["step"], data["block"],
            data.get("locked_round", -1), data.get("locked_block"),
            Block.from_dict(block) if block is not None else None,
            tuple(Vote.from_dict(vote) for vote in data.get("lock_votes", ())),
        )


@dataclass(frozen=True)
class ConsensusConfig:
    timeout_propose_ms: int = 1000
    timeout_prevote_ms: int = 500
    timeout_precommit_ms: int = 500
    timeout_delta_ms: int = 500  # added per round
    rebroadcast_ms: int = 1000  # re-send own messages while a height is undecided
    max_clock_drift_ms: int = 10_000
    propose_delay_ms: int = 0  # wait this long after txs arrive, to batch more into one block


@dataclass(frozen=True)
class PersistSignerState:
    state: SignerState


@dataclass(frozen=True)
class Broadcast:
    message: Any


@dataclass(frozen=True)
class SendTo:
    peer: str
    message: Any


@dataclass(frozen=True)
class Committed:
    block: Block
    cert: CommitCertificate


@dataclass(frozen=True)
class Evidence:
    first: Vote
    second: Vote


@dataclass(frozen=True)
class RequestSync:
    peer: str
    from_height: int


Output = PersistSignerState | Broadcast | SendTo | Committed | Evidence | RequestSync
