"""A lossless, instant, in-process network of engines for the unit tests.

The simulator (ledger.core.consensus.sim) does the adversarial schedules;
these helpers keep unit tests short and exact.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ledger.core.block import Block, Vote, sign_vote
from ledger.core.consensus.engine import Engine
from ledger.core.consensus.interface import (
    Broadcast,
    Committed,
    ConsensusConfig,
    Output,
    PersistSignerState,
    SendTo,
    SignerState,
)
from ledger.core.consensus.messages import Proposal, sign_proposal
from ledger.core.consensus.sim_app import MemoryApp, SimNetwork, VoteWorkload
from ledger.core.tx import Transaction

START = 1_767_225_700_000  # after the sim genesis time


def make_engine(net: SimNetwork, vid: str | None, *, app: MemoryApp | None = None,
                signer_state: SignerState | None = None, config: ConsensusConfig | None = None,
                now: int = START) -> Engine:
    return Engine(net.genesis, app or MemoryApp(net.genesis), validator_id=vid,
                  key=net.keys[vid] if vid is not None else None, signer_state=signer_state,
                  config=config or ConsensusConfig(), now=now)


def first_tx(net: SimNetwork) -> Transaction:
    return VoteWorkload(net, voters=1).phases()[0][0]


def build_block(net: SimNetwork, *, height: int = 1, round: int = 0, time: int = START,
                txs: list[Transaction] | None = None, nonce: int = 0, app: MemoryApp | None = None) -> Block:
    """A valid block for ``height`` (on an empty chain unless ``app`` is given) by the scheduled proposer."""
    app = app or MemoryApp(net.genesis)
    assert app.height == height - 1
    for tx in txs if txs is not None else [first_tx(net) if nonce == 0 else _nonce_tx(net, nonce)]:
        app.add_tx(tx)
    block = app.propose_block(height, round, time)
    assert block is not None
    return block


def _nonce_tx(net: SimNetwork, nonce: int) -> Transaction:
    from ledger.core.tx import make_tx
    return make_tx(net.authority, chain=net.genesis.chain, contract="vote", type="create", nonce=nonce,
                   payload={"election": f"n{nonce}", "title": "t", "opens_at": 0, "closes_at": 10,
                            "candidates": [{"id": "a", "name": "A"}]})


def propose(net: SimNetwork, block: Block, *, round: int | None = None, pol_round: int = -1,
            proposer: str | None = None) -> Proposal:
    round = block.header.round if round is None else round
    proposer = proposer or net.genesis.proposer_for(block.height, round).id
    return sign_proposal(net.keys[proposer], chain=net.genesis.chain, height=block.height, round=round,
                         pol_round=pol_round, block=block, proposer=proposer)


def vote(net: SimNetwork, vid: str, kind: str, block: bytes | None, *, height: int = 1, round: int = 0) -> Vote:
    return sign_vote(net.keys[vid], chain=net.genesis.chain, kind=kind, height=height, round=round,
                     block=block, validator=vid)


def broadcasts(outputs: list[Output]) -> list[Any]:
    return [o.message for o in outputs if isinstance(o, Broadcast)]


def own_votes(outputs: list[Output], kind: str) -> list[Vote]:
    return [m for m in broadcasts(outputs) if isinstance(m, Vote) and m.kind == kind]


def assert_persist_before_broadcast(outputs: list[Output], validator: str, initial: SignerState | None = None) -> None:
    """Every own message sent must follow a PersistSignerState covering it (or the state given at start)."""
    persisted: set[tuple[int, int, int]] = set()
    if initial is not None:
        persisted.add((initial.height, initial.round, initial.step))
    for output in outputs:
        if isinstance(output, PersistSignerState):
            persisted.add((output.state.height, output.state.round, output.state.step))
        elif isinstance(output, Broadcast):
            message = output.message
            if isinstance(message, Vote) and message.validator == validator:
                assert (message.height, message.round, 2 if message.kind == "prevote" else 3) in persisted
            if isinstance(message, Proposal) and message.proposer == validator:
                assert (message.height, message.round, 1) in persisted


@dataclass
class Cluster:
    """Engines wired by a FIFO queue; ``silent`` nodes receive nothing and send nothing."""

    net: SimNetwork
    silent: set[str] = field(default_factory=set)
    config: ConsensusConfig = field(default_factory=ConsensusConfig)
    now: int = START
    engines: dict[str, Engine] = field(init=False)
    apps: dict[str, MemoryApp] = field(init=False)
    log: list[tuple[str, Output]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.apps = {v: MemoryApp(self.net.genesis) for v in self.net.ids}
        self.engines = {v: make_engine(self.net, v, app=self.apps[v], config=self.config, now=self.now)
                        for v in self.net.ids}
        self.queue: deque[tuple[str, Any, str]] = deque()
        for v in self.live:
            self._route(v, self.engines[v].start(self.now))

    @property
    def live(self) -> list[str]:
        return [v for v in self.net.ids if v not in self.silent]

    def _route(self, src: str, outputs: list[Output]) -> None:
        for output in outputs:
            self.log.append((src, output))
            if isinstance(output, Broadcast):
                self.queue.extend((dst, output.message, src) for dst in self.live if dst != src)
            elif isinstance(output, SendTo) and output.peer in self.live:
                self.queue.append((output.peer, output.message, src))

    def drain(self) -> None:
        while self.queue:
            dst, message, src = self.queue.popleft()
            self._route(dst, self.engines[dst].receive(message, src, self.now))

    def submit(self, txs: list[Transaction], to: list[str] | None = None) -> None:
        for v in to or self.live:
            for tx in txs:
                self.apps[v].add_tx(tx)
            self._route(v, self.engines[v].txs_available(self.now))
        self.drain()

    def run_until(self, predicate: Any, *, limit_ms: int = 120_000) -> None:
        """Advance time to each next deadline until ``predicate()`` holds."""
        end = self.now + limit_ms
        while not predicate():
            deadlines = [d for v in self.live if (d := self.engines[v].next_deadline()) is not None]
            if not deadlines or min(deadlines) > end:
                raise AssertionError(f"stuck at heights {self.heights()} (now={self.now})")
            self.now = max(self.now, min(deadlines))
            for v in self.live:
                self._route(v, self.engines[v].tick(self.now))
                self.drain()

    def heights(self) -> dict[str, int]:
        return {v: self.apps[v].height for v in self.net.ids}

    def committed(self, v: str) -> list[Committed]:
        return [o for src, o in self.log if src == v and isinstance(o, Committed)]
