"""The deterministic simulator: seed campaigns, one run per fault family, and controls proving the checks bite."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.core.block import Block, CommitCertificate, sign_vote
from ledger.core.consensus.engine import Engine
from ledger.core.consensus.interface import (
    Broadcast,
    Committed,
    ConsensusConfig,
    Evidence,
    PersistSignerState,
    RequestSync,
    SendTo,
    SignerState,
)
from ledger.core.consensus.messages import CommitMessage, Proposal
from ledger.core.consensus.sim import Simulation, SimulationFailure, main, run_campaign
from ledger.core.consensus.sim_app import MemoryApp, make_sim_network
from ledger.core.consensus.sim_faults import MODES, ROLES, Crash, FaultPlan, Partition
from ledger.core.consensus.sim_model import ChainChecker
from ledger.core.tx import make_tx

from .cluster import START

CHUNK = 50
CAMPAIGN = [(4, start) for start in range(0, 300, CHUNK)] + [(7, start) for start in range(0, 150, CHUNK)]


@pytest.mark.parametrize(("n", "start"), CAMPAIGN)
def test_seed_campaign_keeps_agreement_validity_and_liveness(n: int, start: int) -> None:
    report = run_campaign(range(start, start + CHUNK), n)
    assert report["failures"] == [], json.dumps(report["failures"], indent=1)
    assert report["blocks"] >= CHUNK * 5  # five dependent phases at least: the workload really ran


# --- one targeted run per fault family -------------------------------------------------


@pytest.mark.parametrize("n", [4, 7])
@pytest.mark.parametrize("mode", MODES)
def test_each_fault_mode_is_survived_and_really_injected(mode: str, n: int) -> None:
    plan = FaultPlan.from_seed(1000 + MODES.index(mode), n, mode=mode)
    result = Simulation(plan.seed, plan=plan).run()
    assert result["height"] >= 5
    injected = {
        "clean": result["dropped"] == 0,
        "lossy": result["dropped"] > 0,
        "partition": bool(plan.partitions),
        "crash": result["crashes"] > 0,
        "byzantine": bool(plan.byzantine),
        "skew": any(plan.skew.values()),
        "everything": bool(plan.byzantine and plan.partitions and plan.crashes) and result["dropped"] > 0,
        "adversary": result["attacks"] > 0,
    }
    assert injected[mode], plan.describe()


@pytest.mark.parametrize("n", [4, 7])
@pytest.mark.parametrize("role", ROLES)
def test_each_byzantine_role_at_the_first_proposer_is_tolerated(role: str, n: int) -> None:
    byzantine = {"v1": role} if n == 4 else {"v1": role, "v2": role}  # v1 proposes height 1, round 0
    plan = FaultPlan(7, n, "byzantine", byzantine=byzantine, gst=4_000, loss=0.05, delay_ms=(1, 40))
    result = Simulation(plan.seed, plan=plan).run()
    assert result["height"] >= 5
    assert (result["attacks"] > 0) == (role != "silent")


def test_double_voters_are_reported_as_evidence() -> None:
    evidence = 0
    for seed in range(4):  # loss forces later rounds, whose re-proposals carry (and so reveal) the split votes
        plan = FaultPlan(seed, 7, "byzantine", byzantine={"v1": "double_vote", "v4": "double_vote"}, gst=3_000,
                         loss=0.2)
        evidence += Simulation(seed, plan=plan).run()["evidence"]  # the harness rejects bogus evidence itself
    assert evidence > 0


def test_mid_call_crash_and_restart_of_a_proposer_with_a_follower_watching() -> None:
    crashes = (Crash("v1", 150, 3_000, True), Crash("v2", 2_500, 1_500, False))
    plan = FaultPlan(3, 7, "crash", crashes=crashes, gst=8_000, follower=True)
    result = Simulation(plan.seed, plan=plan).run()
    assert result["crashes"] == 2 and result["height"] >= 5


def test_partition_isolating_a_minority_then_healing() -> None:
    groups = (("v0", "v1", "v2"), ("v3",))
    plan = FaultPlan(5, 4, "partition", partitions=(Partition(0, 9_000, groups),), gst=9_000)
    assert Simulation(plan.seed, plan=plan).run()["height"] >= 5


def test_a_seed_replays_identically() -> None:
    first, second = Simulation(6, 4), Simulation(6, 4)
    assert first.run() == second.run()
    assert list(first.log) == list(second.log)


# --- negative controls: the checker must catch broken runs ------------------------------


class QuorumOfOneEngine(Engine):
    """Deliberately broken: treats a single vote as a quorum."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._quorum = 1


def test_checker_catches_an_engine_that_commits_without_quorum() -> None:
    with pytest.raises(SimulationFailure) as failure:
        Simulation(11, 4, engine_factory=QuorumOfOneEngine).run()
    assert failure.value.kind in ("validity", "agreement") and "seed 11" in str(failure.value)


def test_checker_catches_disagreement_when_byzantine_nodes_exceed_f() -> None:
    plan = FaultPlan(2, 4, "too-many", byzantine={"v1": "adversary", "v2": "adversary"}, gst=5_000)
    with pytest.raises(SimulationFailure) as failure:
        Simulation(plan.seed, plan=plan).run()
    assert failure.value.kind == "agreement" and "--seed 2" in str(failure.value)


def test_checker_catches_lost_liveness_when_silent_nodes_exceed_f() -> None:
    plan = FaultPlan(4, 4, "too-many", byzantine={"v1": "silent", "v2": "silent"})
    with pytest.raises(SimulationFailure) as failure:
        Simulation(plan.seed, plan=plan, liveness_ms=20_000).run()
    assert failure.value.kind == "liveness"


# --- the command line --------------------------------------------------------------------


def test_cli_runs_a_campaign_and_replays_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "3", "--start", "40"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seeds"] == 3 and report["passed"] == 3 and report["failures"] == []
    assert main(["--seed", "46", "--nodes", "7"]) == 0
    replay = json.loads(capsys.readouterr().out)
    assert replay["ok"] and replay["plan"]["n"] == 7 and replay["plan"]["mode"] == MODES[46 % len(MODES)]


# --- Hypothesis: random schedules over four real engines ------------------------------------

SMALL = make_sim_network(4)
HONEST = ("v0", "v1", "v2")
BYZANTINE = "v3"  # runs a real engine, and the schedule may also make it double-vote
TXS = [make_tx(SMALL.authority, chain=SMALL.genesis.chain, contract="vote", type="create", nonce=i,
               payload={"election": f"h{i}", "title": "t", "opens_at": 0, "closes_at": 10,
                        "candidates": [{"id": "a", "name": "A"}]}) for i in range(4)]


class RandomSchedule(RuleBasedStateMachine):
    """Hypothesis picks which message arrives next, which are lost or duplicated, when timers fire,
    where transactions land, which honest node crashes, and where the Byzantine node equivocates."""

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.pool: list[tuple[str, Any, str]] = []
        self.stored: dict[str, list[tuple[Block, CommitCertificate]]] = {v: [] for v in SMALL.ids}
        self.signed: dict[str, SignerState | None] = {v: None for v in SMALL.ids}
        self.engines: dict[str, Engine] = {}
        self.apps: dict[str, MemoryApp] = {}
        self.checker = ChainChecker(SMALL.genesis)
        self.submitted: set[int] = set()
        for vid in SMALL.ids:
            self._boot(vid)

    def _boot(self, vid: str) -> None:
        app = MemoryApp(SMALL.genesis)
        for block, cert in self.stored[vid]:
            app.commit_block(block, cert)
        self.apps[vid] = app
        self.engines[vid] = Engine(SMALL.genesis, app, validator_id=vid, key=SMALL.keys[vid],
                                   signer_state=self.signed[vid], config=ConsensusConfig(), now=self.now)
        self._route(vid, self.engines[vid].start(self.now))

    def _route(self, vid: str, outputs: list[Any]) -> None:
        for output in outputs:
            if isinstance(output, PersistSignerState):
                self.signed[vid] = output.state
            elif isinstance(output, Broadcast):
                self.pool.extend((dst, output.message, vid) for dst in SMALL.ids if dst != vid)
            elif isinstance(output, SendTo):
                self.pool.append((output.peer, output.message, vid))
            elif isinstance(output, Committed):
                self._check_commit(vid, output)
            elif isinstance(output, RequestSync):
                blocks = self.stored[output.peer][output.from_height - 1:]
                self.pool.extend((vid, CommitMessage(b, c), output.peer) for b, c in blocks)
            elif isinstance(output, Evidence):
                self.checker.on_evidence(output, {BYZANTINE})

    def _check_commit(self, vid: str, output: Committed) -> None:
        self.checker.on_commit(vid, len(self.stored[vid]), output.block, output.cert, honest=vid != BYZANTINE)
        self.stored[vid].append((output.block, output.cert))

    def _deliver(self, index: int) -> None:
        dst, message, src = self.pool.pop(index)
        self._route(dst, self.engines[dst].receive(message, src, self.now))

    @precondition(lambda self: self.pool)
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        self._deliver(data.draw(st.integers(0, len(self.pool) - 1)))

    @precondition(lambda self: self.pool)
    @rule(count=st.integers(1, 40))
    def deliver_burst(self, count: int) -> None:
        """A synchronous stretch: the oldest messages arrive in order (without it, little ever commits)."""
        for _ in range(min(count, len(self.pool))):
            self._deliver(0)

    @precondition(lambda self: self.pool)
    @rule(data=st.data(), duplicate=st.booleans())
    def lose_or_duplicate(self, data: st.DataObject, duplicate: bool) -> None:
        index = data.draw(st.integers(0, len(self.pool) - 1))
        if duplicate:
            self.pool.append(self.pool[index])
        else:
            self.pool.pop(index)

    @rule(vid=st.sampled_from(SMALL.ids))
    def fire_timers(self, vid: str) -> None:
        deadline = self.engines[vid].next_deadline()
        if deadline is not None:
            self.now = max(self.now, deadline)
            self._route(vid, self.engines[vid].tick(self.now))

    @rule(vid=st.sampled_from(SMALL.ids), index=st.integers(0, len(TXS) - 1))
    def submit(self, vid: str, index: int) -> None:
        self.submitted.add(index)
        if self.apps[vid].add_tx(TXS[index]):
            self._route(vid, self.engines[vid].txs_available(self.now))

    @rule(vid=st.sampled_from(HONEST))
    def crash_and_restart(self, vid: str) -> None:
        self._boot(vid)  # memory, mempool and timers gone; blocks and signer state kept

    @rule(data=st.data(), kind=st.sampled_from(["prevote", "precommit"]), round=st.integers(0, 2))
    def byzantine_double_vote(self, data: st.DataObject, kind: str, round: int) -> None:
        seen = sorted({m.block.hash for _, m, _ in self.pool if isinstance(m, Proposal)})
        block = data.draw(st.sampled_from([None, bytes(32), *seen]))
        height = self.engines[data.draw(st.sampled_from(HONEST))].height
        vote = sign_vote(SMALL.keys[BYZANTINE], chain=SMALL.genesis.chain, kind=kind, height=height, round=round,
                         block=block, validator=BYZANTINE)
        for dst in data.draw(st.lists(st.sampled_from(HONEST), min_size=1, unique=True)):
            self.pool.append((dst, vote, BYZANTINE))

    @invariant()
    def honest_chains_are_prefixes_of_one_chain(self) -> None:
        for vid in HONEST:
            decided = [b.hash for b, _ in self.checker.decided]
            assert [b.hash for b, _ in self.stored[vid]] == decided[: len(self.stored[vid])]

    def teardown(self) -> None:
        """The network heals: resubmit, deliver everything, fire timers; all must converge."""
        for vid in HONEST:
            for index in sorted(self.submitted):
                if self.apps[vid].add_tx(TXS[index]):
                    self._route(vid, self.engines[vid].txs_available(self.now))
        for _ in range(20_000):
            if self._converged():
                return
            if self.pool:
                self._deliver(0)
                continue
            deadlines = [d for v in SMALL.ids if (d := self.engines[v].next_deadline()) is not None]
            if not deadlines:
                self._handshake()
                if not self.pool:
                    break
                continue
            self.now = max(self.now, min(deadlines))
            for vid in SMALL.ids:
                self._route(vid, self.engines[vid].tick(self.now))
        assert self._converged(), f"no convergence: heights { {v: self.apps[v].height for v in HONEST} }"

    def _handshake(self) -> None:
        top = max(HONEST, key=lambda v: len(self.stored[v]))
        for vid in HONEST:
            for block, cert in self.stored[top][len(self.stored[vid]):]:
                self.pool.append((vid, CommitMessage(block, cert), top))

    def _converged(self) -> bool:
        heights = {self.apps[v].height for v in HONEST}
        on_chain = all(self.apps[v].ledger.tx_height(TXS[i].id) is not None for v in HONEST for i in self.submitted)
        return len(heights) == 1 and on_chain


RandomSchedule.TestCase.settings = settings(max_examples=30, stateful_step_count=60, deadline=None, database=None,
                                           suppress_health_check=[HealthCheck.too_slow])
test_random_schedules_keep_agreement_and_heal = RandomSchedule.TestCase
