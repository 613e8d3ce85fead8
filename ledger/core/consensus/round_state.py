"""Per-height consensus state, thrown away as a whole when a height is decided.

Why one object: moving to the next height must reset every round variable
(Tendermint's lockedValue, validValue, votes, timers) at once, so no field can
leak from one height into the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ..block import Block, Vote
from ..genesis import Genesis
from .messages import CommitMessage, Proposal
from .votes import VoteBook


class Step(IntEnum):
    """Tendermint steps; the values match ``SignerState.step`` for what is signed in them."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


STEP_NAMES = {Step.PROPOSE: "propose", Step.PREVOTE: "prevote", Step.PRECOMMIT: "precommit"}


@dataclass
class Timer:
    deadline: int
    round: int


@dataclass
class HeightState:
    """Everything the engine knows about the undecided height ``height``."""

    height: int
    genesis: Genesis
    round: int = 0
    step: Step = Step.PROPOSE
    active: bool = False  # quiet until txs or traffic for this height
    activated_at: int = 0
    locked_round: int = -1
    locked_id: bytes | None = None
    lock_votes: tuple[Vote, ...] = ()  # the prevotes that justified the lock (persisted with it)
    valid_round: int = -1
    valid_block: Block | None = None
    proposals: dict[int, Proposal] = field(default_factory=dict)  # first proposal per round
    blocks: dict[bytes, Block] = field(default_factory=dict)  # every block seen in a signed proposal
    validity: dict[bytes, bool] = field(default_factory=dict)  # app verdicts, cached per block id
    fits: dict[bytes, bool] = field(default_factory=dict)  # within max_block_bytes, cached per block id
    once: set[tuple[str, int]] = field(default_factory=set)  # "for the first time" rules already fired
    timers: dict[str, Timer] = field(default_factory=dict)
    own: dict[tuple[int, int], Any] = field(default_factory=dict)  # (round, step) -> what we signed (rebroadcast)
    pol: dict[int, list[Vote]] = field(default_factory=dict)  # round -> proof-of-lock votes sent with our re-proposal
    commit_offer: CommitMessage | None = None  # a certified block for this height, awaiting validation
    book: VoteBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = VoteBook(self.genesis)

    def round_senders(self, round: int) -> set[str]:
        """Validators that sent anything (proposal or vote) for ``round``."""
        senders = self.book.senders(round)
        proposal = self.proposals.get(round)
        if proposal is not None:
            senders.add(proposal.proposer)
        return senders

    def known_rounds(self) -> set[int]:
        """Rounds for which any message is held."""
        return set(self.proposals) | self.book.all_rounds()
