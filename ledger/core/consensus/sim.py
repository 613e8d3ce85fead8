"""Deterministic simulation of n real engines over a faulty network, with safety and liveness checks.

One process, one seeded ``random.Random``, one event queue ordered by (time,
seq): the same seed replays the same run exactly, so any failure is a
reproducible bug report (``python -m ledger.core.consensus.sim --seed S
--verbose``). The seed also picks the fault mix (see ``sim_faults``): message
delay, reordering, loss, duplication, partitions that heal, crashes with
restart from persisted blocks + signer state, clock skew, and Byzantine
nodes (silent, equivocating proposer, double voter, invalid blocks, and a
colluding "adversary" that does both splits at once).

Checked after every event: agreement (honest nodes never commit different
blocks at one height), every decided block's certificate verifies and the
block executes on a reference ledger (so no transaction is applied twice),
and each node's commits are contiguous. At the end: liveness (after the
network heals, all honest nodes reach the same height and every submitted
transaction is on chain) and quiet (an idle network stops sending).
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..tx import Transaction
from .engine import Engine
from .interface import (
    Broadcast,
    Committed,
    ConsensusConfig,
    Evidence,
    Output,
    PersistSignerState,
    RequestSync,
    SendTo,
)
from .messages import CommitMessage
from .sim_app import MemoryApp, SimNetwork, VoteWorkload, make_sim_network
from .sim_faults import Adversary, FaultPlan, honest_halves
from .sim_model import ChainChecker, InvariantViolation, Job, SimNode, SimulationFailure, describe

__all__ = ["MemoryApp", "Simulation", "SimulationFailure", "run_campaign", "run_seed"]

START_OFFSET_MS = 100_000  # simulated start, after the genesis time
CLIENT_PERIOD_MS = 250
RESUBMIT_MS = 3_000
SYNC_BATCH = 16
QUIET_MS = 30_000
EngineFactory = Callable[..., Engine]


class Simulation:
    """One seeded run; ``run()`` returns a summary or raises SimulationFailure."""

    def __init__(self, seed: int, n: int = 4, *, plan: FaultPlan | None = None, liveness_ms: int = 150_000,
                 engine_factory: EngineFactory = Engine, config: ConsensusConfig | None = None,
                 verbose: bool = False, voters: int = 4) -> None:
        self.seed = seed
        self.plan = plan or FaultPlan.from_seed(seed, n, voters=voters)
        self.net: SimNetwork = make_sim_network(self.plan.n)
        self.genesis = self.net.genesis
        self.rng = random.Random(f"net:{seed}")
        self.config = config or ConsensusConfig(propose_delay_ms=self.plan.propose_delay_ms)
        self.engine_factory = engine_factory
        self.verbose = verbose
        self.t0 = self.genesis.time + START_OFFSET_MS
        self.now = self.t0
        self.deadline = self.t0 + self.plan.gst + liveness_ms
        self.queue: list[tuple[int, int, str, Any]] = []
        self.seq = 0
        self.log: deque[str] = deque(maxlen=400)
        self.checker = ChainChecker(self.genesis)
        self.workload = VoteWorkload(self.net, voters=self.plan.voters).phases()
        self.jobs = self._make_jobs()
        self.done_at: int | None = None
        self.stats = {"events": 0, "messages": 0, "dropped": 0, "evidence": 0, "crashes": 0, "syncs": 0}
        self.nodes = self._make_nodes()

    # --- setup ---------------------------------------------------------------

    def _make_nodes(self) -> dict[str, SimNode]:
        nodes = {vid: SimNode(vid, True, self.plan.skew.get(vid, 0)) for vid in self.net.ids}
        if self.plan.follower:
            nodes["follower"] = SimNode("follower", False)
        halves = honest_halves(self.plan, self.net.ids)
        split: dict[tuple[int, int], tuple[bytes, bytes]] = {}
        for vid, role in self.plan.byzantine.items():
            nodes[vid].adversary = Adversary(vid, role, self.net.keys[vid], self.genesis, halves, split,
                                             random.Random(f"adv:{self.seed}:{vid}"))
        return nodes

    @property
    def honest(self) -> list[SimNode]:
        return [node for node in self.nodes.values() if node.adversary is None]

    def _schedule(self, at: int, kind: str, data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, data))

    def _record(self, text: str) -> None:
        line = f"t={self.now - self.t0} {text}"
        self.log.append(line)
        if self.verbose:
            print(line, file=sys.stderr)

    def fail(self, kind: str, message: str) -> SimulationFailure:
        return SimulationFailure(self.seed, kind, message, list(self.log))

    # --- running -------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        for node in self.nodes.values():
            if node.adversary is None or node.adversary.role != "silent":
                self._boot(node)
        for crash in self.plan.crashes:
            self._schedule(self.t0 + crash.at, "crash", crash)
        for partition in self.plan.partitions:
            self._schedule(self.t0 + partition.end, "heal", partition)
        self._schedule(self.t0 + 50, "client", None)
        while self.queue:
            at, _, kind, data = heapq.heappop(self.queue)
            if at > self.deadline:
                break
            self.now = max(self.now, at)
            self.stats["events"] += 1
            self._handle_event(kind, data)
            if self.done_at is not None and self.now > self.done_at + QUIET_MS:
                break
        self._check_end()
        return self.summary()

    def _handle_event(self, kind: str, data: Any) -> None:
        if kind == "deliver":
            self._deliver(*data)
        elif kind == "tick":
            self._tick(*data)
        elif kind == "client":
            self._client()
        elif kind == "crash":
            self._crash(data)
        elif kind == "crash_now":
            if self.nodes[data].crash_pending:
                self._go_down(self.nodes[data])
        elif kind == "restart":
            if self.nodes[data].up:  # a mid-call crash that never saw a call: die now
                self._go_down(self.nodes[data])
            self._boot(self.nodes[data])
        elif kind == "sync_poll":
            self._sync_poll(self.nodes[data])
        elif kind == "heal":
            self._heal(data)

    def _local(self, node: SimNode) -> int:
        return self.now + node.skew

    def _boot(self, node: SimNode) -> None:
        """Start (or restart) a node from its durable store, as the runtime would."""
        app = MemoryApp(self.genesis)
        for block, cert in node.blocks:
            app.commit_block(block, cert)
        node.app = app
        node.engine = self.engine_factory(
            self.genesis, app, validator_id=node.id if node.validator else None,
            key=self.net.keys[node.id] if node.validator else None, signer_state=node.signer_state,
            config=self.config, now=self._local(node))
        self._record(f"{node.id} boot at height {app.height + 1}")
        self._act(node, node.engine.start(self._local(node)))
        if node.blocks or not node.validator:
            node.sync_until = self.now + 20_000 if node.validator else self.deadline
            self._schedule(self.now + 1, "sync_poll", node.id)

    def _crash(self, crash: Any) -> None:
        node = self.nodes[crash.node]
        if not node.up:
            return
        self.stats["crashes"] += 1
        self._schedule(self.now + crash.down_ms, "restart", node.id)
        if crash.mid_call:
            node.crash_pending = True
            self._schedule(self.now + 2_000, "crash_now", node.id)
        else:
            self._go_down(node)

    def _go_down(self, node: SimNode) -> None:
        self._record(f"{node.id} CRASH (store: {len(node.blocks)} blocks, signer {node.signer_state})")
        node.engine, node.app, node.tick_at, node.crash_pending = None, None, None, False
        node.token += 1

    # --- engine I/O ----------------------------------------------------------

    def _act(self, node: SimNode, outputs: list[Output]) -> None:
        """Carry out an engine's outputs in order (a mid-call crash stops part-way)."""
        if node.crash_pending:
            outputs = outputs[: self.rng.randint(0, len(outputs))]
        for output in outputs:
            self._apply_output(node, output)
        if node.crash_pending:
            self._go_down(node)
            return
        self._reschedule_tick(node)

    def _apply_output(self, node: SimNode, output: Output) -> None:
        if isinstance(output, PersistSignerState):
            node.signer_state = output.state
        elif isinstance(output, Broadcast):
            self._broadcast(node, output.message)
        elif isinstance(output, SendTo):
            self._send(node.id, [output.peer], output.message)
        elif isinstance(output, Committed):
            self._on_committed(node, output)
        elif isinstance(output, Evidence):
            self._check_evidence(output)
        elif isinstance(output, RequestSync):
            self._send(node.id, [output.peer], ("sync", output.from_height))

    def _reschedule_tick(self, node: SimNode) -> None:
        assert node.engine is not None
        deadline = node.engine.next_deadline()
        at = None if deadline is None else max(self.now, deadline - node.skew)
        if at != node.tick_at:
            node.tick_at = at
            node.token += 1
            if at is not None:
                self._schedule(at, "tick", (node.id, node.token))

    def _tick(self, node_id: str, token: int) -> None:
        node = self.nodes[node_id]
        if node.engine is None or token != node.token:
            return
        node.tick_at = None
        self._act(node, node.engine.tick(self._local(node)))

    def _deliver(self, src: str, dst: str, message: Any) -> None:
        node = self.nodes[dst]
        if node.engine is None or node.app is None or self._cut(src, dst):
            self.stats["dropped"] += 1
            return
        self._record(f"{src}->{dst} {describe(message)}")
        if isinstance(message, tuple) and message[0] == "tx":
            if sum(node.app.add_tx(tx) for tx in message[1]):
                self._act(node, node.engine.txs_available(self._local(node)))
        elif isinstance(message, tuple) and message[0] == "sync":
            self._serve_sync(node, src, message[1])
        elif isinstance(message, tuple) and message[0] == "status":
            if message[1] > len(node.blocks):
                self._send(dst, [src], ("sync", len(node.blocks) + 1), reliable=True)
        else:
            self._act(node, node.engine.receive(message, src, self._local(node)))

    def _serve_sync(self, node: SimNode, peer: str, from_height: int) -> None:
        """The runtime's block sync: send stored blocks with their certificates."""
        self.stats["syncs"] += 1
        for block, cert in node.blocks[from_height - 1: from_height - 1 + SYNC_BATCH]:
            self._send(node.id, [peer], CommitMessage(block, cert), reliable=True)

    def _sync_poll(self, node: SimNode) -> None:
        if not node.up or self.now > node.sync_until or self.done_at is not None:
            return
        peers = sorted(p for p in self.nodes if p != node.id and self.nodes[p].up)
        if peers:
            self._send(node.id, [self.rng.choice(peers)], ("sync", len(node.blocks) + 1), reliable=True)
        self._schedule(self.now + 2_000, "sync_poll", node.id)

    # --- network -------------------------------------------------------------

    def _broadcast(self, node: SimNode, message: Any) -> None:
        peers = [p for p in self.nodes if p != node.id]
        if node.adversary is None or node.app is None:
            self._send(node.id, peers, message)
            return
        for recipients, variant in node.adversary.rewrite(message, peers, node.app, self._local(node)):
            self._send(node.id, recipients, variant)

    def _cut(self, a: str, b: str) -> bool:
        return any(p.separates(a, b, self.now - self.t0) for p in self.plan.partitions)

    def _heal(self, partition: Any) -> None:
        """Connections come back: like a transport handshake, peers tell each other their heights."""
        for a in sorted(self.nodes):
            for b in sorted(self.nodes):
                if a != b and self.nodes[a].up and partition.separates(a, b, partition.start):
                    self._send(a, [b], ("status", len(self.nodes[a].blocks)), reliable=True)

    def _send(self, src: str, dsts: list[str], message: Any, *, reliable: bool = False) -> None:
        """Each copy may be lost, delayed (reordered), or duplicated; faults end at GST.

        ``reliable`` models the runtime's request/response block sync and
        handshakes (TCP with retries): never lost, still cut by partitions.
        """
        plan, rng = self.plan, self.rng
        stable = self.now - self.t0 >= plan.gst
        for dst in dsts:
            self.stats["messages"] += 1
            lost = not reliable and rng.random() < (plan.loss / 5 if stable else plan.loss)
            if self._cut(src, dst) or lost:
                self.stats["dropped"] += 1
                continue
            copies = 2 if rng.random() < plan.duplicate else 1
            for _ in range(copies):
                delay = rng.randint(*plan.delay_ms)
                if not stable and rng.random() < plan.tail:
                    delay += rng.randint(0, plan.tail_ms)
                self._schedule(self.now + delay, "deliver", (src, dst, message))

    # --- workload ------------------------------------------------------------

    def _make_jobs(self) -> list[Job]:
        """Setup phases one after another, then each voter at a random moment up to just after GST."""
        *setup, votes = self.workload
        jobs = [Job(list(txs), 0, index) for index, txs in enumerate(setup)]
        moments = sorted(self.rng.randint(0, self.plan.gst + 2_000) for _ in votes)
        jobs += [Job([tx], self.t0 + at, len(setup)) for tx, at in zip(votes, moments)]
        return jobs

    def _client(self) -> None:
        """Submit jobs whose dependencies are on chain; resubmit what is not (nodes may lose mempools)."""
        for job in self.jobs:
            if job.submitted_at is not None and not self._on_chain(job.txs) and self.now - job.submitted_at >= RESUBMIT_MS:
                self._submit(job, [tx for tx in job.txs if self.checker.reference.tx_height(tx.id) is None])
        for job in self.jobs:
            ready = all(self._on_chain(j.txs) for j in self.jobs[: job.after])
            if job.submitted_at is None and ready and self.now >= job.not_before:
                self._submit(job, job.txs)
        if all(job.submitted_at is not None and self._on_chain(job.txs) for job in self.jobs):
            self._record("workload committed")
            self._maybe_done()
            return
        self._schedule(self.now + CLIENT_PERIOD_MS, "client", None)

    def _on_chain(self, txs: list[Transaction]) -> bool:
        return all(self.checker.reference.tx_height(tx.id) is not None for tx in txs)

    def _submit(self, job: Job, txs: list[Transaction]) -> None:
        targets = sorted(v for v, node in self.nodes.items() if node.up and node.validator)
        if not targets:
            return
        job.submitted_at = self.now
        entry = self.nodes[self.rng.choice(targets)]
        self._record(f"client -> {entry.id}: {len(txs)} txs")
        assert entry.app is not None and entry.engine is not None
        if sum(entry.app.add_tx(tx) for tx in txs):
            self._act(entry, entry.engine.txs_available(self._local(entry)))
        self._send(entry.id, [p for p in self.nodes if p != entry.id], ("tx", tuple(txs)))

    # --- invariants ----------------------------------------------------------

    def _on_committed(self, node: SimNode, output: Committed) -> None:
        block, cert = output.block, output.cert
        try:
            self.checker.on_commit(node.id, len(node.blocks), block, cert, honest=node.adversary is None)
        except InvariantViolation as exc:
            raise self.fail(exc.kind, str(exc)) from exc
        node.blocks.append((block, cert))
        self._record(f"{node.id} COMMIT h{block.height} {block.hash.hex()[:6]} r{cert.round} txs={len(block.txs)}")
        self._maybe_done()

    def _check_evidence(self, evidence: Evidence) -> None:
        try:
            self.checker.on_evidence(evidence, set(self.plan.byzantine))
        except InvariantViolation as exc:
            raise self.fail(exc.kind, str(exc)) from exc
        self.stats["evidence"] += 1

    def _caught_up(self) -> bool:
        height = len(self.checker.decided)
        return all(node.up and len(node.blocks) == height for node in self.honest)

    def _maybe_done(self) -> None:
        if self.done_at is None and self._on_chain([tx for job in self.jobs for tx in job.txs]) and self._caught_up():
            self.done_at = self.now

    def _check_end(self) -> None:
        if self.done_at is None:
            self._maybe_done()
        missing = [tx for job in self.jobs for tx in job.txs if self.checker.reference.tx_height(tx.id) is None]
        if missing:
            raise self.fail("liveness", f"{len(missing)} transactions not committed by the deadline "
                                        f"(decided height {len(self.checker.decided)})")
        if not self._caught_up():
            heights = {n.id: (len(n.blocks) if n.up else "down") for n in self.honest}
            raise self.fail("liveness", f"honest nodes did not converge on height {len(self.checker.decided)}: {heights}")
        busy = {n.id: n.engine.next_deadline() for n in self.honest if n.engine and n.engine.next_deadline()}
        if busy or any(kind == "deliver" for _, _, kind, _ in self.queue):
            raise self.fail("quiet", f"network still busy {QUIET_MS} ms after the workload: timers {busy}")
        submitted = sum(len(p) for p in self.workload)
        on_chain = sum(len(b.txs) for b, _ in self.checker.decided)
        if on_chain != submitted:
            raise self.fail("exactly-once", f"{on_chain} transactions on chain, {submitted} submitted")

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "n": self.plan.n, "mode": self.plan.mode, "height": len(self.checker.decided),
            "max_round": max((c.round for _, c in self.checker.decided), default=0),
            "sim_ms": (self.done_at or self.now) - self.t0, **self.stats,
            "attacks": sum(n.adversary.attacks for n in self.nodes.values() if n.adversary),
        }


def run_seed(seed: int, n: int = 4, **kwargs: Any) -> dict[str, Any]:
    return Simulation(seed, n, **kwargs).run()


def run_campaign(seeds: range, n: int, *, voters: int = 4) -> dict[str, Any]:
    """Run many seeds; failures are collected, not raised, so one report shows them all."""
    started = time.monotonic()
    failures: list[dict[str, Any]] = []
    modes: dict[str, int] = {}
    heights = rounds = evidence = attacks = 0
    for seed in seeds:
        try:
            result = run_seed(seed, n, voters=voters)
        except SimulationFailure as exc:
            failures.append({"seed": seed, "kind": exc.kind, "error": str(exc).splitlines()[0]})
            continue
        modes[result["mode"]] = modes.get(result["mode"], 0) + 1
        heights += result["height"]
        rounds = max(rounds, result["max_round"])
        evidence += result["evidence"]
        attacks += result["attacks"]
    return {
        "seeds": len(seeds), "start": seeds.start, "nodes": n, "passed": len(seeds) - len(failures),
        "failures": failures, "modes": modes, "blocks": heights, "max_round": rounds, "evidence": evidence,
        "attacks": attacks, "seconds": round(time.monotonic() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deterministic consensus simulation campaign")
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--nodes", type=int, default=4, help="validators")
    parser.add_argument("--voters", type=int, default=4, help="vote transactions in the workload")
    parser.add_argument("--seed", type=int, help="replay one seed")
    parser.add_argument("--verbose", action="store_true", help="print every event (with --seed)")
    args = parser.parse_args(argv)
    if args.seed is not None:
        sim = Simulation(args.seed, args.nodes, verbose=args.verbose, voters=args.voters)
        try:
            result: dict[str, Any] = {"ok": True, "plan": sim.plan.describe(), **sim.run()}
        except SimulationFailure as exc:
            result = {"ok": False, "plan": sim.plan.describe(), "kind": exc.kind, "error": str(exc)}
        print(json.dumps(result, indent=2, default=str))
        return 0 if result["ok"] else 1
    report = run_campaign(range(args.start, args.start + args.seeds), args.nodes, voters=args.voters)
    print(json.dumps(report, indent=2))
    return 0 if not report["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
