"""The simulator's records and its safety checker.

``ChainChecker`` is the oracle: every honest commit must agree with earlier
honest commits at that height, carry a certificate that verifies against the
genesis, execute on a reference ledger (so no transaction is ever applied
twice), and follow the node's previous commit. It is shared by the seeded
simulator and the Hypothesis state machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..block import Block, CommitCertificate, Vote
from ..errors import LedgerError
from ..genesis import Genesis
from ..machine import Ledger
from ..tx import Transaction
from .engine import Engine
from .interface import Evidence, SignerState
from .messages import CommitMessage, Proposal
from .sim_app import MemoryApp
from .sim_faults import Adversary


class InvariantViolation(AssertionError):
    """A broken safety property; ``kind`` names it (agreement, validity, contiguity, evidence)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ChainChecker:
    """Safety oracle over the commits of all nodes."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.reference = Ledger(genesis)
        self.decided: list[tuple[Block, CommitCertificate]] = []

    def on_commit(self, node: str, stored: int, block: Block, cert: CommitCertificate, *, honest: bool) -> None:
        """Check one commit by ``node``, which had ``stored`` blocks before it."""
        if block.height != stored + 1:
            raise InvariantViolation("contiguity", f"{node} committed height {block.height} after {stored}")
        if not honest:
            return
        if block.height <= len(self.decided):
            first = self.decided[block.height - 1][0].hash
            if first != block.hash:
                raise InvariantViolation("agreement", f"{node} committed {block.hash.hex()[:12]} at height "
                                                      f"{block.height}, another honest node {first.hex()[:12]}")
            return
        try:
            cert.verify(self.genesis, block.header)
            self.reference.apply_block(block)
        except LedgerError as exc:
            raise InvariantViolation("validity", f"{node} committed an invalid block at {block.height}: {exc}") from exc
        self.decided.append((block, cert))

    @staticmethod
    def on_evidence(evidence: Evidence, byzantine: set[str]) -> None:
        """Evidence must show one Byzantine validator signing two blocks for one slot."""
        first, second = evidence.first, evidence.second
        same_slot = (first.validator, first.height, first.round, first.kind) == (
            second.validator, second.height, second.round, second.kind)
        if not same_slot or first.block == second.block or first.validator not in byzantine:
            raise InvariantViolation("evidence", f"bogus evidence against {first.validator}")


@dataclass
class Job:
    """Transactions a client sends together, once the first ``after`` jobs are on chain."""

    txs: list[Transaction]
    not_before: int
    after: int
    submitted_at: int | None = None


class SimulationFailure(AssertionError):
    """A safety or liveness violation, with the seed and the tail of the event log."""

    def __init__(self, seed: int, kind: str, message: str, log: list[str]) -> None:
        self.seed, self.kind = seed, kind
        tail = "\n".join(log[-60:])
        super().__init__(f"seed {seed}: {kind}: {message}\nreplay: python -m ledger.core.consensus.sim "
                         f"--seed {seed} --verbose\nlast events:\n{tail}")


@dataclass
class SimNode:
    """A node's durable store survives crashes; its app, engine and mempool do not."""

    id: str
    validator: bool
    skew: int = 0
    blocks: list[tuple[Block, CommitCertificate]] = field(default_factory=list)
    signer_state: SignerState | None = None
    app: MemoryApp | None = None
    engine: Engine | None = None
    adversary: Adversary | None = None
    tick_at: int | None = None
    token: int = 0
    crash_pending: bool = False
    sync_until: int = 0  # after a restart, the runtime keeps polling peers for blocks until then

    @property
    def up(self) -> bool:
        return self.engine is not None


def describe(message: Any) -> str:
    """A compact one-line form for the event log."""
    if isinstance(message, Proposal):
        return f"P h{message.height} r{message.round} pol{message.pol_round} {message.block.hash.hex()[:6]}"
    if isinstance(message, Vote):
        block = message.block.hex()[:6] if message.block else "nil"
        return f"{'PV' if message.kind == 'prevote' else 'PC'} h{message.height} r{message.round} {block} by {message.validator}"
    if isinstance(message, CommitMessage):
        return f"C h{message.block.height} {message.block.hash.hex()[:6]}"
    if isinstance(message, tuple) and message and message[0] == "tx":
        return f"tx x{len(message[1])}"
    if isinstance(message, tuple) and message and message[0] in ("sync", "status"):
        return f"{message[0]} {message[1]}"
    return type(message).__name__
