"""Fault plans drawn from a seed, and the Byzantine behaviours the simulator plays.

Why the seed picks the fault mix: a campaign over consecutive seeds then
covers every fault family (``MODES``) without configuration, and any failing
seed replays the exact same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from ..block import Block, BlockHeader, Vote, sign_vote
from ..crypto import PrivateKey
from ..genesis import Genesis
from ..tx import Transaction
from .messages import Proposal, sign_proposal
from .sim_app import MemoryApp

ROLES = ("silent", "equivocate", "double_vote", "invalid_block", "adversary")
MODES = ("clean", "lossy", "partition", "crash", "byzantine", "skew", "everything", "adversary")
MAX_SKEW_MS = 2_000


@dataclass(frozen=True)
class Crash:
    node: str
    at: int  # ms after the start
    down_ms: int
    mid_call: bool  # die part-way through acting on one engine call's outputs


@dataclass(frozen=True)
class Partition:
    start: int
    end: int
    groups: tuple[tuple[str, ...], ...]

    def separates(self, a: str, b: str, t: int) -> bool:
        if not self.start <= t < self.end:
            return False
        return not any(a in group and b in group for group in self.groups)


@dataclass(frozen=True)
class FaultPlan:
    """Everything that goes wrong in one run, fixed by (seed, n)."""

    seed: int
    n: int
    mode: str
    byzantine: dict[str, str] = field(default_factory=dict)  # node -> role
    crashes: tuple[Crash, ...] = ()
    partitions: tuple[Partition, ...] = ()
    loss: float = 0.0
    duplicate: float = 0.0
    delay_ms: tuple[int, int] = (1, 20)
    tail: float = 0.0  # chance of a long delay
    tail_ms: int = 0
    skew: dict[str, int] = field(default_factory=dict)
    gst: int = 0  # after this (ms from start) the network is good and faulty nodes are back
    follower: bool = False
    propose_delay_ms: int = 0
    voters: int = 4

    @property
    def max_faulty(self) -> int:
        return (self.n - 1) // 3

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "n": self.n, "mode": self.mode, "byzantine": dict(sorted(self.byzantine.items())),
            "crashes": [(c.node, c.at, c.down_ms, c.mid_call) for c in self.crashes],
            "partitions": [(p.start, p.end, p.groups) for p in self.partitions],
            "loss": round(self.loss, 3), "duplicate": round(self.duplicate, 3), "delay_ms": self.delay_ms,
            "tail": round(self.tail, 3), "skew": {k: v for k, v in sorted(self.skew.items()) if v},
            "gst": self.gst, "follower": self.follower, "propose_delay_ms": self.propose_delay_ms,
            "voters": self.voters,
        }

    @classmethod
    def from_seed(cls, seed: int, n: int, *, mode: str | None = None, voters: int = 4) -> FaultPlan:
        rng = random.Random(f"plan:{seed}:{n}")
        mode = mode or MODES[seed % len(MODES)]
        ids = [f"v{i}" for i in range(n)]
        plan = cls(seed, n, mode, voters=voters, follower=rng.random() < 0.3,
                   propose_delay_ms=rng.choice((0, 0, 50, 200)), delay_ms=(1, rng.randint(5, 60)))
        if mode == "clean":
            return plan
        plan = replace(plan, gst=rng.randint(8_000, 25_000))
        builders = {
            "lossy": (_lossy,), "partition": (_partitions,), "crash": (_crashes,), "byzantine": (_byzantine,),
            "skew": (_skew, _lossy), "everything": (_lossy, _partitions, _byzantine, _crashes, _skew),
            "adversary": (_adversary, _partitions),
        }[mode]
        for build in builders:
            plan = build(plan, rng, ids)
        return plan


def _lossy(plan: FaultPlan, rng: random.Random, ids: list[str]) -> FaultPlan:
    return replace(plan, loss=rng.uniform(0.0, 0.25), duplicate=rng.uniform(0.0, 0.2), tail=rng.uniform(0.0, 0.1),
                   tail_ms=rng.randint(200, 3_000), delay_ms=(1, rng.randint(10, 300)))


def _partitions(plan: FaultPlan, rng: random.Random, ids: list[str]) -> FaultPlan:
    parts = []
    for _ in range(rng.randint(1, 3)):
        start = rng.randint(0, max(1, plan.gst - 3_000))
        end = min(plan.gst, start + rng.randint(1_000, 12_000))
        members = [*ids, "follower"] if plan.follower else list(ids)
        rng.shuffle(members)
        cut = rng.randint(1, len(members) - 1)
        parts.append(Partition(start, end, (tuple(sorted(members[:cut])), tuple(sorted(members[cut:])))))
    return replace(plan, partitions=tuple(parts))


def _honest(plan: FaultPlan, ids: list[str]) -> list[str]:
    return [i for i in ids if i not in plan.byzantine]


def _crashes(plan: FaultPlan, rng: random.Random, ids: list[str]) -> FaultPlan:
    victims = rng.sample(_honest(plan, ids), rng.randint(1, max(1, plan.max_faulty)))
    crashes = []
    for node in sorted(victims):
        at = rng.randint(300, max(400, plan.gst - 6_000))
        crashes.append(Crash(node, at, rng.randint(500, max(600, min(9_000, plan.gst - at - 100))), rng.random() < 0.5))
    return replace(plan, crashes=tuple(crashes))


def _byzantine(plan: FaultPlan, rng: random.Random, ids: list[str]) -> FaultPlan:
    nodes = rng.sample(ids, rng.randint(1, plan.max_faulty))
    return replace(plan, byzantine={node: rng.choice(ROLES) for node in sorted(nodes)})


def _adversary(plan: FaultPlan, rng: random.Random, ids: list[str]) -> FaultPlan:
    nodes = rng.sample(ids, plan.max_faulty)
    return replace(plan, byzantine={node: "adversary" for node in sorted(nodes)})


def _skew(plan: FaultPlan, rng: random.Random, ids: list[str]) -> FaultPlan:
    return replace(plan, skew={i: rng.randint(-MAX_SKEW_MS, MAX_SKEW_MS) for i in ids})


def honest_halves(plan: FaultPlan, ids: list[str]) -> tuple[list[str], list[str]]:
    """The split every colluding Byzantine node uses: two halves of the honest nodes."""
    honest = _honest(plan, ids) + (["follower"] if plan.follower else [])
    return honest[: len(honest) // 2], honest[len(honest) // 2:]


Send = tuple[list[str], Any]  # (recipients, message)


class Adversary:
    """Rewrites a Byzantine node's honest-engine outputs into attacks, consistently across rebroadcasts."""

    def __init__(self, node: str, role: str, key: PrivateKey, genesis: Genesis, halves: tuple[list[str], list[str]],
                 split: dict[tuple[int, int], tuple[bytes, bytes]], rng: random.Random) -> None:
        self.node, self.role, self.key, self.genesis = node, role, key, genesis
        self.halves = halves
        self.split = split  # shared by colluding nodes: (height, round) -> (block for half 0, block for half 1)
        self.rng = rng
        self._proposals: dict[tuple[int, int], tuple[Proposal, Proposal]] = {}
        self._votes: dict[tuple[int, int, str], tuple[Vote, Vote]] = {}
        self.attacks = 0

    def rewrite(self, message: Any, peers: list[str], app: MemoryApp, now: int) -> list[Send]:
        others = [p for p in peers if p not in self.halves[0] and p not in self.halves[1]]
        if isinstance(message, Proposal) and message.proposer == self.node and message.pol_round == -1:
            if self.role in ("equivocate", "adversary"):
                return self._equivocate(message, app, others)
            if self.role == "invalid_block":
                return [(peers, self._corrupt(message, app, now))]
        if isinstance(message, Vote) and message.validator == self.node and self.role in ("double_vote", "adversary"):
            return self._double_vote(message, others)
        return [(peers, message)]

    def _equivocate(self, proposal: Proposal, app: MemoryApp, others: list[str]) -> list[Send]:
        key = (proposal.height, proposal.round)
        if key not in self._proposals:
            alt = app.propose_block(proposal.height, proposal.round, proposal.block.header.time + 1)
            if alt is None or alt.hash == proposal.block.hash:
                return [(self.halves[0] + self.halves[1] + others, proposal)]
            self._proposals[key] = (proposal, self._sign(proposal, alt))
            self.split[key] = (proposal.block.hash, alt.hash)
            self.attacks += 1
        first, second = self._proposals[key]
        return [(self.halves[0] + others, first), (list(self.halves[1]), second)]

    def _corrupt(self, proposal: Proposal, app: MemoryApp, now: int) -> Proposal:
        """A signed proposal whose block honest nodes must reject."""
        self.attacks += 1
        block = proposal.block
        kind = self.rng.choice(("state_root", "bad_tx", "future"))
        if kind == "future":
            alt = app.propose_block(block.height, proposal.round, now + 120_000)
            if alt is not None:
                return self._sign(proposal, alt)
        if kind == "bad_tx" and block.txs:
            tx = block.txs[0]
            forged = Transaction(tx.chain, tx.contract, tx.type, tx.payload, tx.signer, tx.nonce, self.key.sign(b"x"))
            result = app.ledger.build_block([forged, *block.txs[1:]], proposer=self.node, round=block.header.round,
                                            time=block.header.time, verified={(t.id, t.sig) for t in block.txs})
            return self._sign(proposal, result.pending.block)
        h = block.header
        forged_header = BlockHeader(h.chain, h.height, h.round, h.prev, h.time, h.proposer, h.txs, h.tx_root, bytes(32))
        return self._sign(proposal, Block(forged_header, block.txs))

    def _sign(self, proposal: Proposal, block: Block) -> Proposal:
        return sign_proposal(self.key, chain=proposal.chain, height=proposal.height, round=proposal.round,
                             pol_round=proposal.pol_round, block=block, proposer=self.node)

    def _double_vote(self, vote: Vote, others: list[str]) -> list[Send]:
        key = (vote.height, vote.round, vote.kind)
        if key not in self._votes:
            split = self.split.get((vote.height, vote.round))
            if split is not None:
                pair = (self._resign(vote, split[0]), self._resign(vote, split[1]))
            else:
                alt = None if vote.block is not None else self.rng.randbytes(32)
                pair = (vote, self._resign(vote, alt))
            self._votes[key] = pair
            self.attacks += 1
        first, second = self._votes[key]
        return [(self.halves[0] + others, first), (list(self.halves[1]), second)]

    def _resign(self, vote: Vote, block: bytes | None) -> Vote:
        return sign_vote(self.key, chain=vote.chain, kind=vote.kind, height=vote.height, round=vote.round,
                         block=block, validator=self.node)
