"""The votes seen at one height, tallied by power, with equivocation detected once per slot.

Why not simply "one vote per (validator, round, kind)": a double voter's
vote for block X is a real signature for X, and proofs of lock carried by a
re-proposal may include it. Dropping it makes the proof unverifiable for
nodes that saw the other vote first, and the round can never succeed (found
by the simulator). So the book keeps the *first* vote of each validator per
slot, which alone counts for "2/3+ of anything" and for round skipping, and
also the conflicting votes, each counting only for the block it names. That
is safe: two conflicting 2/3+ sets would need more than 1/3 of the power to
sign both. A validator never counts twice in one tally.

The book trusts its caller to have checked signatures (the engine verifies
once, before ``add``, and skips known votes without re-verifying).
"""

from __future__ import annotations

from ..block import Vote
from ..genesis import Genesis
from .interface import Evidence

Slot = tuple[int, str]  # (round, kind)
MAX_UNKNOWN_CONFLICTS = 1  # conflicting votes for blocks we do not hold, kept per validator and slot


class VoteBook:
    """Votes for one height, indexed by (round, kind) then validator id."""

    def __init__(self, genesis: Genesis) -> None:
        self._genesis = genesis
        self._first: dict[Slot, dict[str, Vote]] = {}
        self._conflicts: dict[Slot, dict[str, dict[bytes | None, Vote]]] = {}
        self._reported: set[tuple[str, int, str]] = set()

    def is_known(self, vote: Vote) -> bool:
        """True if this exact (validator, slot, block) vote is held (a duplicate: skip verification)."""
        slot = (vote.round, vote.kind)
        first = self._first.get(slot, {}).get(vote.validator)
        if first is None:
            return False
        return first.block == vote.block or vote.block in self._conflicts.get(slot, {}).get(vote.validator, {})

    def add(self, vote: Vote, *, block_known: bool = True) -> tuple[bool, Evidence | None]:
        """Store a verified vote; return (it added power somewhere, evidence if it is the slot's first conflict).

        ``block_known``: the vote names nil or a block we hold; conflicting
        votes for unknown blocks are kept only up to a small bound (memory).
        """
        slot = (vote.round, vote.kind)
        firsts = self._first.setdefault(slot, {})
        first = firsts.get(vote.validator)
        if first is None:
            firsts[vote.validator] = vote
            return True, None
        if self.is_known(vote):
            return False, None
        conflicts = self._conflicts.setdefault(slot, {}).setdefault(vote.validator, {})
        evidence = None
        key = (vote.validator, vote.round, vote.kind)
        if key not in self._reported:
            self._reported.add(key)
            evidence = Evidence(first, vote)
        if block_known or len(conflicts) < MAX_UNKNOWN_CONFLICTS:
            conflicts[vote.block] = vote
            return True, evidence
        return False, evidence

    def power_for(self, round: int, kind: str, block: bytes | None) -> int:
        """Power of the validators that signed ``block`` (None = nil) in a slot, each once."""
        return sum(self._power(v.validator) for v in self.votes_for(round, kind, block))

    def power_any(self, round: int, kind: str) -> int:
        """Power of the validators with any vote in a slot, each once."""
        return sum(self._power(v) for v in self._first.get((round, kind), {}))

    def quorum_blocks(self, round: int, kind: str, quorum: int) -> list[bytes]:
        """Block ids (never nil) that reached ``quorum`` power in a slot, in a stable order."""
        candidates = {v.block for v in self._first.get((round, kind), {}).values()}
        for by_block in self._conflicts.get((round, kind), {}).values():
            candidates.update(by_block)
        return sorted(b for b in candidates if b is not None and self.power_for(round, kind, b) >= quorum)

    def votes_for(self, round: int, kind: str, block: bytes | None) -> list[Vote]:
        """One vote for ``block`` per validator that signed one, sorted by validator (certificates, proofs of lock)."""
        firsts = self._first.get((round, kind), {})
        conflicts = self._conflicts.get((round, kind), {})
        chosen = []
        for validator in sorted(firsts):
            vote = firsts[validator] if firsts[validator].block == block else conflicts.get(validator, {}).get(block)
            if vote is not None:
                chosen.append(vote)
        return chosen

    def all_rounds(self) -> set[int]:
        """Rounds holding any vote."""
        return {r for r, _ in self._first}

    def senders(self, round: int) -> set[str]:
        """Distinct validators that voted in ``round``."""
        return set(self._first.get((round, "prevote"), {})) | set(self._first.get((round, "precommit"), {}))

    def _power(self, validator_id: str) -> int:
        validator = self._genesis.validator(validator_id)
        return validator.power if validator is not None else 0
