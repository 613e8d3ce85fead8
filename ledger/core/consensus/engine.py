"""Tendermint BFT consensus as a sans-I/O state machine (arXiv 1807.04938).

The runtime feeds messages, the time and mempool news in; the engine returns
outputs (see ``interface.py``). Nothing here reads a clock, draws a random
number or does I/O, so a run is a pure function of its inputs: the simulator
replays any schedule exactly.

Departures from the paper, all deliberate:
- No empty blocks: a height stays quiet (no timers, no traffic) until this
  node has pending transactions or sees a proposal or vote for the height.
- A proposal with a bad signature or from the wrong proposer is dropped,
  not prevoted nil: anyone can forge those, so reacting would let a
  non-validator steer votes. Signed-but-invalid proposals get a nil prevote.
- Block timeliness (``time <= now + max_clock_drift_ms``) only gates our own
  prevote; locking and committing need validity alone, since a quorum of
  votes already vouches for the time and clocks are local.
- The lock is persisted with the signer state, so a restart cannot forget it,
  and a restarted validator re-signs its last vote (same content) to re-send it.
- Besides the paper's quorum-triggered timeouts, entering the prevote or
  precommit step starts a longer "stall" timeout. Timeouts never touch
  safety; this one keeps a round moving when a vote was lost for good (a
  peer crashed before sending it), which the paper's reliable gossip rules out.
- Own messages of the current and previous round are re-sent every
  ``rebroadcast_ms`` while the height is undecided, so loss only delays.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ..block import Block, CommitCertificate, Vote
from ..crypto import PrivateKey
from ..genesis import Genesis
from .intake import MessageIntake, is_signed
from .interface import (
    Application,
    Broadcast,
    Committed,
    ConsensusConfig,
    Output,
    PersistSignerState,
    SignerState,
)
from .messages import CommitMessage, Proposal
from .round_state import STEP_NAMES, HeightState, Step, Timer
from .rules import MAX_RULE_STEPS, TendermintRules
from .signer import Lock, Signer

KEEP_COMMITTED = 8  # recent blocks+certificates kept to answer peers that are behind


class Engine(MessageIntake, TendermintRules):
    """One node's Tendermint state machine; a validator if given an id and key, else a follower."""

    def __init__(
        self,
        genesis: Genesis,
        app: Application,
        *,
        validator_id: str | None,
        key: PrivateKey | None,
        signer_state: SignerState | None,
        config: ConsensusConfig,
        now: int,
    ) -> None:
        _check_identity(genesis, validator_id, key)
        self._genesis = genesis
        self._app = app
        self._id = validator_id
        self._signer = Signer(genesis.chain, validator_id, key, signer_state) if validator_id and key else None
        self._config = config
        self._quorum = genesis.quorum_power()
        self._skip_power = genesis.total_power - self._quorum + 1  # f+1: at least one honest sender
        self._committed: OrderedDict[int, tuple[Block, CommitCertificate]] = OrderedDict()
        self._future: dict[tuple[Any, ...], tuple[Any, str]] = {}
        self._replied: dict[tuple[str, int], int] = {}
        self._sync_requested_at: int | None = None
        self._lag_peer: str | None = None
        self._out: list[Output] = []
        self._started = False
        self._hs = HeightState(app.height + 1, genesis)

    # --- status ------------------------------------------------------------

    @property
    def height(self) -> int:
        """The height being decided (last committed + 1)."""
        return self._hs.height

    @property
    def round(self) -> int:
        return self._hs.round

    @property
    def step(self) -> str:
        """``propose``, ``prevote`` or ``precommit``."""
        return STEP_NAMES[self._hs.step]

    @property
    def is_active(self) -> bool:
        """False while the height is idle (no transactions, no traffic)."""
        return self._hs.active

    @property
    def signer_state(self) -> SignerState | None:
        return self._signer.last if self._signer is not None else None

    # --- inputs --------------------------------------------------------------

    def start(self, now: int) -> list[Output]:
        """Begin the current height (call once, after construction)."""
        self._ensure_started(now)
        return self._finish(now)

    def receive(self, message: Any, sender: str, now: int) -> list[Output]:
        """Handle a peer's Proposal, Vote or CommitMessage."""
        self._ensure_started(now)
        if isinstance(message, (Proposal, Vote, CommitMessage)):
            self._dispatch(message, sender, now, replay=False)
        return self._finish(now)

    def tick(self, now: int) -> list[Output]:
        """Fire every timer due at ``now``."""
        self._ensure_started(now)
        for _ in range(MAX_RULE_STEPS):
            due = [(t.deadline, name) for name, t in self._hs.timers.items() if t.deadline <= now]
            if not due:
                break
            name = min(due)[1]
            self._fire(name, self._hs.timers.pop(name), now)
            self._advance(now)
        return self._finish(now)

    def txs_available(self, now: int) -> list[Output]:
        """The mempool gained transactions: wake the height up and propose if it is our turn."""
        self._ensure_started(now)
        if self._app.has_pending_txs():
            self._activate(now)
            self._try_propose(now)
        return self._finish(now)

    def next_deadline(self) -> int | None:
        """When ``tick`` should next be called (None: idle until a message or transactions)."""
        return min((t.deadline for t in self._hs.timers.values()), default=None)

    # --- plumbing ------------------------------------------------------------

    def _ensure_started(self, now: int) -> None:
        if not self._started:
            self._started = True
            self._begin_height(now)

    def _finish(self, now: int) -> list[Output]:
        self._advance(now)
        out, self._out = self._out, []
        return out

    # --- heights and rounds --------------------------------------------------

    def _begin_height(self, now: int) -> None:
        """Fresh state for app.height + 1; after a restart resume the round, lock and last vote we signed."""
        hs = HeightState(self._app.height + 1, self._genesis)
        self._hs = hs
        signed = self.signer_state
        resuming = signed is not None and signed.height == hs.height
        if signed is not None and resuming:
            hs.round = signed.round
            self._restore_lock(signed)
        if hs.round > 0 or self._app.has_pending_txs():
            hs.active, hs.activated_at = True, now
        self._start_round(hs.round, now)
        if resuming:
            self._resend_last_vote(now)
        self._replay_future(now)

    def _restore_lock(self, signed: SignerState) -> None:
        """Take the lock back, and with its block and proof also the valid value to re-propose."""
        hs = self._hs
        if signed.locked_round >= 0 and signed.locked_block is not None:
            hs.locked_round, hs.locked_id = signed.locked_round, bytes.fromhex(signed.locked_block)
        elif signed.step == Step.PRECOMMIT and signed.block is not None:  # a state written without lock fields
            hs.locked_round, hs.locked_id = signed.round, bytes.fromhex(signed.block)
        block = signed.lock_block
        if block is None or block.hash != hs.locked_id:
            return
        hs.blocks[block.hash] = block
        hs.valid_block, hs.valid_round = block, hs.locked_round
        for vote in signed.lock_votes:
            if (vote.round, vote.kind, vote.block) == (hs.locked_round, "prevote", block.hash) and is_signed(vote, self._genesis):
                hs.book.add(vote)
        hs.lock_votes = tuple(hs.book.votes_for(hs.locked_round, "prevote", block.hash))

    def _resend_last_vote(self, now: int) -> None:
        """Re-sign and send the vote we last signed before the restart; it may never have left."""
        vote = self._signer.resign_last_vote() if self._signer is not None else None
        if vote is None:
            return
        hs = self._hs
        hs.active = True
        self._enter_step(Step.PREVOTE if vote.kind == "prevote" else Step.PRECOMMIT, now)
        hs.book.add(vote)
        self._publish(vote, now)

    def _start_round(self, round: int, now: int) -> None:
        hs = self._hs
        hs.round, hs.step = round, Step.PROPOSE
        for name in ("propose", "prevote", "precommit", "propose_delay"):
            hs.timers.pop(name, None)
        if round > 0 and not hs.active:
            hs.active, hs.activated_at = True, now
        if hs.active:
            self._on_active_round(now)

    def _activate(self, now: int) -> None:
        hs = self._hs
        if hs.active:
            return
        hs.active, hs.activated_at = True, now
        if hs.step == Step.PROPOSE:
            self._on_active_round(now)

    def _on_active_round(self, now: int) -> None:
        round = self._hs.round
        delay = self._config.propose_delay_ms if round == 0 else 0
        self._set_timer("propose", now + delay + self._timeout(self._config.timeout_propose_ms, round), round)
        self._try_propose(now)

    def _timeout(self, base: int, round: int) -> int:
        return base + round * self._config.timeout_delta_ms

    def _set_timer(self, name: str, deadline: int, round: int, *, always: bool = False) -> None:
        """Followers keep only the sync timer: they never sign, so round timeouts are pointless."""
        if self._signer is not None or always:
            self._hs.timers[name] = Timer(deadline, round)

    def _enter_step(self, step: Step, now: int) -> None:
        """Move to prevote/precommit and start its stall timeout (unless the quorum timeout already runs)."""
        hs, config = self._hs, self._config
        hs.step = step
        name = "prevote" if step == Step.PREVOTE else "precommit"
        if (f"{name}_timer", hs.round) in hs.once:
            return
        base = config.timeout_prevote_ms if step == Step.PREVOTE else config.timeout_precommit_ms
        stall = self._timeout(config.timeout_propose_ms, hs.round) + self._timeout(base, hs.round)
        self._set_timer(name, now + stall, hs.round)

    def _fire(self, name: str, timer: Timer, now: int) -> None:
        hs = self._hs
        current = timer.round == hs.round
        if name == "propose" and current and hs.step == Step.PROPOSE:
            self._vote("prevote", None, now)
        elif name == "prevote" and current and hs.step == Step.PREVOTE:
            self._vote("precommit", None, now)
        elif name == "precommit" and current:
            self._start_round(hs.round + 1, now)
        elif name == "propose_delay":
            self._try_propose(now)
        elif name == "rebroadcast":
            self._rebroadcast(now)
        elif name == "lag" and self._lag_peer is not None:
            self._request_sync(self._lag_peer, now)

    # --- acting ----------------------------------------------------------------

    def _try_propose(self, now: int) -> None:
        """Propose if it is our turn: the valid block if any, else a fresh one (never an empty block)."""
        hs = self._hs
        if self._signer is None or hs.step != Step.PROPOSE or not hs.active or hs.round in hs.proposals:
            return
        if self._genesis.proposer_for(hs.height, hs.round).id != self._id:
            return
        if hs.valid_block is not None:
            self._propose(hs.valid_block, hs.valid_round, now)
            return
        ready_at = hs.activated_at + self._config.propose_delay_ms
        if hs.round == 0 and now < ready_at:
            self._set_timer("propose_delay", ready_at, hs.round)
            return
        if not self._app.has_pending_txs():
            return
        block = self._app.propose_block(hs.height, hs.round, max(now, self._app.head_time + 1))
        if block is not None:
            hs.validity[block.hash] = True  # built by our own app on our head
            self._propose(block, -1, now)

    def _lock(self) -> Lock:
        hs = self._hs
        if hs.locked_round < 0:
            return Lock()
        return Lock(hs.locked_round, hs.locked_id, hs.blocks.get(hs.locked_id) if hs.locked_id else None, hs.lock_votes)

    def _propose(self, block: Block, pol_round: int, now: int) -> None:
        hs = self._hs
        signed = self._signer.proposal(hs.height, hs.round, pol_round, block, self._lock()) if self._signer else None
        if signed is None:
            return
        proposal, state = signed
        self._out.append(PersistSignerState(state))
        if pol_round >= 0:
            hs.pol[hs.round] = hs.book.votes_for(pol_round, "prevote", block.hash)
        self._store_proposal(proposal)
        self._publish(proposal, now)

    def _vote(self, kind: str, block_id: bytes | None, now: int) -> None:
        """Move to the step and sign the vote, unless that would contradict what we signed before."""
        hs = self._hs
        self._enter_step(Step.PREVOTE if kind == "prevote" else Step.PRECOMMIT, now)
        signed = self._signer.vote(kind, hs.height, hs.round, block_id, self._lock()) if self._signer else None
        if signed is None:
            return
        vote, state = signed
        self._out.append(PersistSignerState(state))
        hs.book.add(vote)
        self._publish(vote, now)

    def _publish(self, message: Proposal | Vote, now: int) -> None:
        """Broadcast a message we signed and keep it for rebroadcast; a re-proposal carries its proof of lock."""
        hs = self._hs
        step = Step.PROPOSE if isinstance(message, Proposal) else (Step.PREVOTE if message.kind == "prevote" else Step.PRECOMMIT)
        hs.own[(message.round, int(step))] = message
        self._out.append(Broadcast(message))
        if isinstance(message, Proposal):
            self._out.extend(Broadcast(vote) for vote in hs.pol.get(message.round, []))
        self._set_timer("rebroadcast", now + self._config.rebroadcast_ms, hs.round)  # quiet period restarts

    def _rebroadcast(self, now: int) -> None:
        """Re-send our messages of this and the previous round: peers one round behind still need them."""
        hs = self._hs
        for (round, _), message in sorted(hs.own.items(), key=lambda item: item[0]):
            if round >= hs.round - 1:
                self._out.append(Broadcast(message))
                if isinstance(message, Proposal):
                    self._out.extend(Broadcast(vote) for vote in hs.pol.get(round, []))
        self._set_timer("rebroadcast", now + self._config.rebroadcast_ms, hs.round)

    def _commit(self, block: Block, cert: CommitCertificate, now: int) -> None:
        expected = self._app.height + 1
        self._app.commit_block(block, cert)
        if self._app.height != expected:
            raise RuntimeError(f"application did not advance to height {expected}")
        self._out.append(Committed(block, cert))
        self._committed[block.height] = (block, cert)
        while len(self._committed) > KEEP_COMMITTED:
            self._committed.popitem(last=False)
        self._replied = {k: t for k, t in self._replied.items() if k[1] in self._committed}
        self._begin_height(now)


def _check_identity(genesis: Genesis, validator_id: str | None, key: PrivateKey | None) -> None:
    """A validator needs its genesis entry and the matching key; a follower has neither."""
    if validator_id is None:
        if key is not None:
            raise ValueError("a signing key needs a validator id")
        return
    validator = genesis.validator(validator_id)
    if validator is None:
        raise ValueError(f"{validator_id} is not a validator in the genesis")
    if key is None or key.public_key != validator.pubkey:
        raise ValueError(f"the key does not match validator {validator_id}")
