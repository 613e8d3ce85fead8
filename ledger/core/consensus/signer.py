"""Crash-safe signing: never two different messages for one (height, round, step).

Why a separate object: the double-signing guard must hold whatever the state
machine does, including after a restart that forgot everything but the
persisted ``SignerState``. Every signature goes through ``may_sign`` and
produces the state the runtime must persist before sending.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..block import Block, Vote, sign_vote
from ..crypto import PrivateKey
from .interface import SignerState
from .messages import Proposal, sign_proposal

PROPOSAL_STEP, PREVOTE_STEP, PRECOMMIT_STEP = 1, 2, 3
KIND_STEP = {"prevote": PREVOTE_STEP, "precommit": PRECOMMIT_STEP}


@dataclass(frozen=True)
class Lock:
    """The lock to persist with every signature: round, block and the prevotes that justify it."""

    round: int = -1
    block_id: bytes | None = None
    block: Block | None = None  # may be unknown after a restart from an older state
    votes: tuple[Vote, ...] = ()


def _hex(block_id: bytes | None) -> str | None:
    return block_id.hex() if block_id is not None else None


class Signer:
    """A validator key guarded by the last signed (height, round, step, block)."""

    def __init__(self, chain: str, validator_id: str, key: PrivateKey, last: SignerState | None) -> None:
        self.chain = chain
        self.validator_id = validator_id
        self._key = key
        self.last = last

    def may_sign(self, height: int, round: int, step: int, block_id: bytes | None) -> bool:
        """Only forward in (height, round, step); the same slot again only for the same block."""
        last = self.last
        if last is None:
            return True
        new, old = (height, round, step), (last.height, last.round, last.step)
        return new > old or (new == old and last.block == _hex(block_id))

    def vote(self, kind: str, height: int, round: int, block_id: bytes | None,
             lock: Lock) -> tuple[Vote, SignerState] | None:
        """Sign a vote, or None if it would contradict what we signed before."""
        step = KIND_STEP[kind]
        if not self.may_sign(height, round, step, block_id):
            return None
        vote = sign_vote(self._key, chain=self.chain, kind=kind, height=height, round=round, block=block_id,
                         validator=self.validator_id)
        return vote, self._remember(height, round, step, block_id, lock)

    def proposal(self, height: int, round: int, pol_round: int, block: Block,
                 lock: Lock) -> tuple[Proposal, SignerState] | None:
        if not self.may_sign(height, round, PROPOSAL_STEP, block.hash):
            return None
        proposal = sign_proposal(self._key, chain=self.chain, height=height, round=round, pol_round=pol_round,
                                 block=block, proposer=self.validator_id)
        return proposal, self._remember(height, round, PROPOSAL_STEP, block.hash, lock)

    def resign_last_vote(self) -> Vote | None:
        """After a restart, sign the last vote again (same content, so not equivocation) to re-send it.

        Our own earlier copy may never have left the machine; peers stuck in that
        round need it, and nothing else may be signed for that slot.
        """
        last = self.last
        if last is None or last.step not in (PREVOTE_STEP, PRECOMMIT_STEP):
            return None
        kind = "prevote" if last.step == PREVOTE_STEP else "precommit"
        block_id = bytes.fromhex(last.block) if last.block is not None else None
        return sign_vote(self._key, chain=self.chain, kind=kind, height=last.height, round=last.round,
                         block=block_id, validator=self.validator_id)

    def _remember(self, height: int, round: int, step: int, block_id: bytes | None,
                  lock: Lock) -> SignerState:
        self.last = SignerState(height, round, step, _hex(block_id), lock.round, _hex(lock.block_id), lock.block,
                                lock.votes)
        return self.last
