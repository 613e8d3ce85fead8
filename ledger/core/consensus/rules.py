"""The "upon" rules of Tendermint (arXiv 1807.04938, Algorithm 1; paper line numbers in brackets).

Why a mixin: the rules read the per-height state and call the engine's
actions; keeping them apart from message routing and timers lets each rule
be read next to the paper. ``advance`` applies rules until none fires, so
the order messages arrive in never matters, only what has arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..block import Block, CommitCertificate
from ..errors import LedgerError
from .messages import Proposal
from .round_state import HeightState, Step

if TYPE_CHECKING:
    from ..genesis import Genesis
    from .interface import Application, ConsensusConfig

MAX_RULE_STEPS = 10_000


class TendermintRules:
    """Rule evaluation over ``self._hs``; the engine supplies the actions."""

    _hs: HeightState
    _genesis: Genesis
    _app: Application
    _config: ConsensusConfig
    _quorum: int
    _skip_power: int

    if TYPE_CHECKING:  # actions the engine implements
        def _commit(self, block: Block, cert: CommitCertificate, now: int) -> None: ...
        def _start_round(self, round: int, now: int) -> None: ...
        def _vote(self, kind: str, block_id: bytes | None, now: int) -> None: ...
        def _set_timer(self, name: str, deadline: int, round: int, *, always: bool = False) -> None: ...
        def _timeout(self, base: int, round: int) -> int: ...

    def _advance(self, now: int) -> None:
        """Apply rules until none fires: each returns True when it changed the state."""
        for _ in range(MAX_RULE_STEPS):
            if not (
                self._rule_decide(now)
                or self._rule_round_skip(now)
                or self._rule_prevote(now)
                or self._rule_prevote_timer(now)
                or self._rule_polka(now)
                or self._rule_nil_polka(now)
                or self._rule_precommit_timer(now)
            ):
                return
        raise RuntimeError("consensus rules did not settle")  # a bug, never input-driven

    def _rule_decide(self, now: int) -> bool:
        """[49] 2/3+ precommits for a valid block we hold (any round), or a certified CommitMessage: commit."""
        hs = self._hs
        offer, hs.commit_offer = hs.commit_offer, None
        if offer is not None and self._is_valid(offer.block):
            self._commit(offer.block, offer.cert, now)
            return True
        for round in sorted(hs.book.all_rounds()):
            for block_id in hs.book.quorum_blocks(round, "precommit", self._quorum):
                block = hs.blocks.get(block_id)
                if block is not None and self._is_valid(block):
                    cert = CommitCertificate.from_votes(hs.book.votes_for(round, "precommit", block_id))
                    self._commit(block, cert, now)
                    return True
        return False

    def _rule_round_skip(self, now: int) -> bool:
        """[55] f+1 validators (at least one honest) are in a later round: join the latest such round."""
        hs = self._hs
        later = [r for r in hs.known_rounds() if r > hs.round and self._power(hs.round_senders(r)) >= self._skip_power]
        if not later:
            return False
        self._start_round(max(later), now)
        return True

    def _rule_prevote(self, now: int) -> bool:
        """[22, 28] Prevote on the round's proposal (a re-proposal waits for its proof of lock)."""
        hs = self._hs
        proposal = hs.proposals.get(hs.round)
        if hs.step != Step.PROPOSE or proposal is None:
            return False
        ready, block_id = self._judge(proposal, now)
        if not ready:
            return False
        self._vote("prevote", block_id, now)
        return True

    def _judge(self, proposal: Proposal, now: int) -> tuple[bool, bytes | None]:
        """(ready to prevote, what to prevote) for the round's first proposal."""
        hs, block = self._hs, proposal.block
        usable = self._is_timely(block, now) and self._fits(block) and self._is_valid(block)
        if proposal.pol_round == -1:
            fresh = block.header.round == proposal.round and block.header.proposer == proposal.proposer
            unlocked = hs.locked_round == -1 or hs.locked_id == block.hash
            return True, block.hash if fresh and usable and unlocked else None
        if not 0 <= proposal.pol_round < proposal.round or block.header.round > proposal.pol_round:
            return True, None
        if hs.book.power_for(proposal.pol_round, "prevote", block.hash) < self._quorum:
            return False, None
        unlocked = hs.locked_round <= proposal.pol_round or hs.locked_id == block.hash
        return True, block.hash if usable and unlocked else None

    def _rule_prevote_timer(self, now: int) -> bool:
        """[34] 2/3+ prevotes of any kind: (re)start the prevote timeout once."""
        hs = self._hs
        if hs.step != Step.PREVOTE or ("prevote_timer", hs.round) in hs.once:
            return False
        if hs.book.power_any(hs.round, "prevote") < self._quorum:
            return False
        hs.once.add(("prevote_timer", hs.round))
        self._set_timer("prevote", now + self._timeout(self._config.timeout_prevote_ms, hs.round), hs.round)
        return True

    def _rule_polka(self, now: int) -> bool:
        """[36] 2/3+ prevotes for a valid block this round: it becomes the valid value; lock + precommit if in prevote."""
        hs = self._hs
        if hs.step == Step.PROPOSE or ("polka", hs.round) in hs.once:
            return False
        for block_id in hs.book.quorum_blocks(hs.round, "prevote", self._quorum):
            block = hs.blocks.get(block_id)
            if block is None or not self._is_valid(block):
                continue
            hs.once.add(("polka", hs.round))
            hs.valid_block, hs.valid_round = block, hs.round
            if hs.step == Step.PREVOTE:
                hs.locked_round, hs.locked_id = hs.round, block_id
                hs.lock_votes = tuple(hs.book.votes_for(hs.round, "prevote", block_id))
                self._vote("precommit", block_id, now)
            return True
        return False

    def _rule_nil_polka(self, now: int) -> bool:
        """[44] 2/3+ prevotes for nil: precommit nil."""
        hs = self._hs
        if hs.step != Step.PREVOTE or hs.book.power_for(hs.round, "prevote", None) < self._quorum:
            return False
        self._vote("precommit", None, now)
        return True

    def _rule_precommit_timer(self, now: int) -> bool:
        """[47] 2/3+ precommits of any kind: (re)start the precommit timeout once."""
        hs = self._hs
        if ("precommit_timer", hs.round) in hs.once or hs.book.power_any(hs.round, "precommit") < self._quorum:
            return False
        hs.once.add(("precommit_timer", hs.round))
        self._set_timer("precommit", now + self._timeout(self._config.timeout_precommit_ms, hs.round), hs.round)
        return True

    # --- predicates -----------------------------------------------------------

    def _is_valid(self, block: Block) -> bool:
        """Does the app accept the block on our head? Cached per id: execution is the expensive part."""
        hs = self._hs
        verdict = hs.validity.get(block.hash)
        if verdict is None:
            verdict = block.header.height == hs.height and block.header.chain == self._genesis.chain
            if verdict:
                try:
                    verdict = bool(self._app.validate_block(block))
                except LedgerError:
                    verdict = False
            hs.validity[block.hash] = verdict
        return verdict

    def _fits(self, block: Block) -> bool:
        """Proposal size limit (genesis ``max_block_bytes``, canonical block bytes).

        Like timeliness it gates only our own prevote (docs/protocol.md 9.2): it is not a block
        validity rule, so a verifier of a finished chain need not re-encode blocks, but an honest
        quorum never prevotes a block over the limit, so none is committed. Cached per block id:
        encoding a full block costs milliseconds.
        """
        hs = self._hs
        verdict = hs.fits.get(block.hash)
        if verdict is None:
            verdict = len(block.to_bytes()) <= self._genesis.param("max_block_bytes")
            hs.fits[block.hash] = verdict
        return verdict

    def _is_timely(self, block: Block, now: int) -> bool:
        """Local-clock check, so it only gates our own prevote (see the engine docstring)."""
        return self._app.head_time < block.header.time <= now + self._config.max_clock_drift_ms

    def _power(self, validators: set[str]) -> int:
        return sum(v.power for v in (self._genesis.validator(i) for i in validators) if v is not None)
