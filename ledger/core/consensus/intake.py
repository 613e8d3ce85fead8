"""Incoming messages: check, de-duplicate, and route them by height.

Why apart from the rules: what arrives is untrusted and may be for another
height. This layer verifies signatures once (duplicates are recognised
before any curve arithmetic), keeps memory bounded against a flooding peer,
buffers the next height, helps peers that are behind and asks for sync when
we are. Only checked messages for the current height reach the rules.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..block import VOTE_KINDS, Block, CommitCertificate, Vote
from ..errors import LedgerError
from ..genesis import Genesis
from .interface import ConsensusConfig, Output, RequestSync, SendTo
from .messages import CommitMessage, Proposal
from .round_state import HeightState

if TYPE_CHECKING:
    from .interface import Application

MAX_ROUNDS_AHEAD = 100  # votes/proposals for rounds further ahead are dropped (memory bound)
MAX_BLOCKS_PER_HEIGHT = 64  # distinct proposed blocks kept per height (equivocating proposers)
MAX_BUFFERED = 1024  # messages held for the next height


def _message_key(message: Any) -> tuple[Any, ...]:
    """Identity of a message for de-duplication (blocks hold dicts, so messages are not hashable)."""
    if isinstance(message, Vote):
        return ("vote", message.validator, message.height, message.round, message.kind, message.block)
    if isinstance(message, Proposal):
        return ("proposal", message.proposer, message.height, message.round, message.pol_round, message.block.hash)
    return ("commit", message.block.hash)


def _height_of(message: Any) -> int:
    return message.block.height if isinstance(message, CommitMessage) else int(message.height)


def is_signed(vote: Vote, genesis: Genesis) -> bool:
    try:
        vote.verify(genesis)
    except LedgerError:
        return False
    return True


class MessageIntake:
    """Message handling over the engine's state; the engine supplies timers and activation."""

    _hs: HeightState
    _genesis: Genesis
    _app: Application
    _config: ConsensusConfig
    _out: list[Output]
    _committed: OrderedDict[int, tuple[Block, CommitCertificate]]
    _future: dict[tuple[Any, ...], tuple[Any, str]]
    _replied: dict[tuple[str, int], int]
    _sync_requested_at: int | None
    _lag_peer: str | None

    if TYPE_CHECKING:  # implemented by the engine
        def _activate(self, now: int) -> None: ...
        def _set_timer(self, name: str, deadline: int, round: int, *, always: bool = False) -> None: ...

    def _dispatch(self, message: Any, sender: str, now: int, *, replay: bool) -> None:
        """Route a message by height: old -> help the peer, current -> ingest, next -> buffer, far -> sync."""
        height = _height_of(message)
        current = self._hs.height
        if height < current:
            if not replay and not isinstance(message, CommitMessage):
                self._reply_committed(sender, height, now)
        elif height == current:
            self._ingest(message, now)
        elif height == current + 1:
            self._buffer(message, sender, now)
        elif not replay:
            self._request_sync(sender, now)

    def _ingest(self, message: Any, now: int) -> None:
        if isinstance(message, Proposal):
            self._ingest_proposal(message, now)
        elif isinstance(message, Vote):
            self._ingest_vote(message, now)
        else:
            self._ingest_commit(message)

    def _ingest_proposal(self, proposal: Proposal, now: int) -> None:
        hs = self._hs
        if proposal.chain != self._genesis.chain or not 0 <= proposal.round <= hs.round + MAX_ROUNDS_AHEAD:
            return
        if proposal.proposer != self._genesis.proposer_for(proposal.height, proposal.round).id:
            return
        first = hs.proposals.get(proposal.round)
        if first is not None and (first.block.hash == proposal.block.hash or proposal.block.hash in hs.blocks):
            return  # nothing new: skip the signature check
        try:
            proposal.verify(self._genesis)
        except LedgerError:
            return
        self._store_proposal(proposal)
        self._activate(now)

    def _store_proposal(self, proposal: Proposal) -> None:
        hs = self._hs
        hs.proposals.setdefault(proposal.round, proposal)
        if proposal.block.hash not in hs.blocks and len(hs.blocks) < MAX_BLOCKS_PER_HEIGHT:
            hs.blocks[proposal.block.hash] = proposal.block

    def _ingest_vote(self, vote: Vote, now: int) -> None:
        hs = self._hs
        if vote.chain != self._genesis.chain or vote.kind not in VOTE_KINDS:
            return
        if not 0 <= vote.round <= hs.round + MAX_ROUNDS_AHEAD or self._genesis.validator(vote.validator) is None:
            return
        if hs.book.is_known(vote):
            return
        try:
            vote.verify(self._genesis)
        except LedgerError:
            return
        counted, evidence = hs.book.add(vote, block_known=vote.block is None or vote.block in hs.blocks)
        if evidence is not None:
            self._out.append(evidence)
        if counted:
            self._activate(now)

    def _ingest_commit(self, message: CommitMessage) -> None:
        """A final block for our height: keep it if the certificate holds; ``_advance`` commits it."""
        if self._hs.commit_offer is not None:
            return
        try:
            message.cert.verify(self._genesis, message.block.header)
        except LedgerError:
            return
        self._hs.commit_offer = message

    def _buffer(self, message: Any, sender: str, now: int) -> None:
        """Hold a next-height message; if we stay behind for a while, ask that peer for blocks."""
        key = _message_key(message)
        if key not in self._future and len(self._future) < MAX_BUFFERED:
            self._future[key] = (message, sender)
        if "lag" not in self._hs.timers:
            self._lag_peer = sender
            self._set_timer("lag", now + self._config.rebroadcast_ms, self._hs.round, always=True)

    def _replay_future(self, now: int) -> None:
        pending, self._future = list(self._future.values()), {}
        for message, sender in pending:
            self._dispatch(message, sender, now, replay=True)

    def _reply_committed(self, peer: str, height: int, now: int) -> None:
        """A peer still works on a height we decided: hand it the block and certificate (rate-limited)."""
        entry = self._committed.get(height)
        last = self._replied.get((peer, height))
        if entry is None or (last is not None and now - last < self._config.rebroadcast_ms):
            return
        self._replied[(peer, height)] = now
        self._out.append(SendTo(peer, CommitMessage(*entry)))

    def _request_sync(self, peer: str, now: int) -> None:
        last = self._sync_requested_at
        if last is not None and now - last < self._config.rebroadcast_ms:
            return
        self._sync_requested_at = now
        self._out.append(RequestSync(peer, self._app.height + 1))
