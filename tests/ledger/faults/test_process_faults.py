"""Real-process fault test: a 4-node network on loopback keeps every acknowledged vote through
kill -9 (of the proposer too), SIGSTOP/SIGCONT, network isolation and loss of quorum.

Each node is a separate ``manage.py run_node --home`` process with its own SQLite file and
port. Peer links go through one TCP proxy per ordered node pair (``proxy.py``), so
isolating a node means blackholing its links, as a firewall DROP rule would, while voters
still reach it. A background stream (``stream.py``) sends pre-signed votes to random nodes
and records which ones a node acknowledged as committed.

Faults, in order, each while votes keep coming:
1. SIGKILL the node due to propose the next block; the other 3 keep committing; restart it,
   it catches up from its own database and its peers.
2. SIGSTOP a node; the other 3 keep committing; SIGCONT, it catches up.
3. Isolate a node; the other 3 keep committing and the isolated one commits nothing; heal.
4. Two of four down (SIGKILL of the next proposer, SIGSTOP of another): the two left must
   commit nothing (no quorum; never a fork); restore both and commits resume.
At the end every vote the stream attempted is resubmitted unless acknowledged, as a client
would, and then: every vote is on every node exactly once (acknowledged ones in the block
the node named), all nodes hold identical block hashes at every height, nothing was stored
above the stall height while quorum was lost, the tally on every node equals the accepted
votes, every node stops cleanly, and ``ledger_verify`` passes on every node's database.

The CI run (one round of the faults at 20 votes/s) takes about a minute (well under four on
a loaded 2-core machine). The long run repeats the faults for four rounds at 60 votes/s
with 10 s outages (about 6 minutes):

    LEDGER_LONG_TESTS=1 python3 run.py test tests/ledger/faults -m slow

``FAULT_SEED`` picks the victims (default: a fixed seed; the seed is printed).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.client import NodeClient
from tests.ledger.faults.checks import (
    check_no_commit_while_stalled,
    check_one_chain,
    check_tallies,
    check_verify_databases,
    check_votes,
    read_chains,
)
from tests.ledger.faults.cluster import ProcessNetwork, ProcessNode, build_network
from tests.ledger.faults.stream import VoteStream, prepare_votes
from tests.ledger.node.support import CANDIDATES, election_setup, voter_keys

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.e2e]
LONG_RUNS = os.environ.get("LEDGER_LONG_TESTS", "") == "1"
PROGRESS_BLOCKS = 2  # "keeps committing" = the live nodes store at least this many more blocks
STALL_SETTLE_S = 2.0  # a block whose precommits were already out when quorum went may still land


@dataclass(frozen=True)
class Plan:
    rate: float  # votes per second offered by the stream
    rounds: int  # how many times the four faults run
    outage_s: float  # how long a node stays down, paused or isolated
    stall_window_s: float  # how long the quorum-less nodes are watched
    votes: int


CI_PLAN = Plan(rate=20, rounds=1, outage_s=4, stall_window_s=6, votes=4000)
LONG_PLAN = Plan(rate=60, rounds=4, outage_s=10, stall_window_s=15, votes=60_000)


@pytest.fixture
def network(tmp_path: Path) -> Iterator[ProcessNetwork]:
    network = build_network(tmp_path)
    try:
        yield network
    finally:
        for node in network.nodes:
            if node.paused:
                node.resume()
            if node.running:
                node.terminate()
        network.proxies.close()


class FaultRun:
    def __init__(self, network: ProcessNetwork, plan: Plan, seed: int) -> None:
        self.network = network
        self.plan = plan
        self.rng = random.Random(seed)
        self.started = time.monotonic()
        self.stalls: list[tuple[int, float]] = []  # (stall height, wall time of the restore)
        self.stream: VoteStream | None = None

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message} heights={self.network.heights()}", flush=True)

    def others(self, *excluded: ProcessNode) -> list[ProcessNode]:
        return [n for n in self.network.nodes if n not in excluded]

    def top(self, nodes: list[ProcessNode]) -> int:
        return max(h or 0 for h in self.network.heights(nodes).values())

    def expect_progress(self, live: list[ProcessNode], what: str) -> None:
        """The live nodes store PROGRESS_BLOCKS more blocks (no time limit beyond a generous one)."""
        self.network.wait_height(self.top(live) + PROGRESS_BLOCKS, live, timeout=90, what=what)

    def expect_catch_up(self, node: ProcessNode) -> None:
        target = self.top(self.others(node))
        self.network.wait_height(target, [node], timeout=120, what=f"{node.node_id} to catch up")

    def expect_stall(self, live: list[ProcessNode], window_s: float, what: str) -> int:
        """No block is stored above the height the live nodes reached once in-flight commits landed."""
        time.sleep(STALL_SETTLE_S)
        stalled = self.top(live)
        deadline = time.monotonic() + window_s
        while time.monotonic() < deadline:
            heights = self.network.heights(live)
            assert all(h is not None and h <= stalled for h in heights.values()), (
                f"{what}: committed above {stalled} without a quorum: {heights}")
            time.sleep(0.5)
        return stalled

    # --- the faults ---------------------------------------------------------------------------

    def kill_proposer(self) -> None:
        victim = self.network.current_proposer()
        victim.kill()
        self.log(f"SIGKILL {victim.node_id} (the next proposer)")
        self.expect_progress(self.others(victim), "3 nodes to commit without the killed proposer")
        time.sleep(self.plan.outage_s)
        victim.start()
        self.network.wait_participating(victim)
        self.expect_catch_up(victim)
        self.log(f"{victim.node_id} restarted and caught up")

    def pause_one(self) -> None:
        victim = self.rng.choice(self.network.nodes)
        victim.pause()
        self.log(f"SIGSTOP {victim.node_id}")
        self.expect_progress(self.others(victim), "3 nodes to commit while one is paused")
        time.sleep(self.plan.outage_s)
        victim.resume()
        self.expect_catch_up(victim)
        self.log(f"SIGCONT {victim.node_id}; caught up")

    def isolate_one(self) -> None:
        victim = self.rng.choice(self.network.nodes)
        self.network.proxies.isolate(victim.node_id)
        self.log(f"isolated {victim.node_id}")
        self.expect_progress(self.others(victim), "3 nodes to commit while one is isolated")
        self.expect_stall([victim], self.plan.outage_s, f"isolated {victim.node_id}")
        self.network.proxies.heal(victim.node_id)
        self.expect_catch_up(victim)
        self.log(f"healed {victim.node_id}; caught up")

    def lose_quorum(self) -> None:
        killed = self.network.current_proposer()
        paused = self.rng.choice(self.others(killed))
        killed.kill()
        paused.pause()
        live = self.others(killed, paused)
        self.log(f"2 of 4 down: SIGKILL {killed.node_id}, SIGSTOP {paused.node_id}")
        stalled = self.expect_stall(live, self.plan.stall_window_s, "2 of 4 nodes down")
        self.log(f"stalled at {stalled}")
        restored_at = time.time()
        self.stalls.append((stalled, restored_at))
        paused.resume()
        killed.start()
        self.network.wait_participating(killed)
        self.network.wait_height(stalled + 1, self.network.nodes, timeout=120, what="commits to resume")
        self.expect_catch_up(killed)
        self.log("quorum restored; commits resumed")
        acked = self.stream.acked if self.stream else []
        early = [r.ack for r in acked if r.ack is not None and r.ack.height > stalled and r.ack.at < restored_at]
        assert not early, f"votes acknowledged above the stall height {stalled} without a quorum: {early[:3]}"

    def run(self, tmp_path: Path) -> None:
        network, plan = self.network, self.plan
        network.start_all()
        self.log("4 nodes participating")
        voters = voter_keys(plan.votes, uuid.uuid4().hex[:8])
        setup = NodeClient(network.urls).commit_many(election_setup(network.authority, network.chain, voters),
                                                     timeout_s=120)
        assert {s.status for s in setup} == {"committed"}, setup
        votes = prepare_votes(voters, network.chain, CANDIDATES)
        self.stream = VoteStream({n.node_id: n.url for n in network.nodes}, votes, rate=plan.rate,
                                 seed=self.rng.randrange(2**32))
        self.stream.start()
        self.log("election open; votes streaming")
        self.expect_progress(network.nodes, "4 nodes to commit votes")
        for round_number in range(plan.rounds):
            self.log(f"round {round_number + 1} of {plan.rounds}")
            self.kill_proposer()
            self.pause_one()
            self.isolate_one()
            self.lose_quorum()
        self.expect_progress(network.nodes, "4 nodes to commit after the faults")
        self.stream.stop()
        self.log(f"stream stopped: {self.stream.summary()}")
        self.finish()

    def finish(self) -> None:
        network = self.network
        records = list(self.stream.records.values()) if self.stream else []
        late = [(r.vote.tx_id, r.late_rejection) for r in records if r.late_rejection]
        assert not late, f"nodes refused votes they had admitted: {late[:5]}"
        assert any(r.ack for r in records), "no vote was acknowledged"
        retry = [r.vote.raw for r in records if r.ack is None]
        final = NodeClient(network.urls, timeout_s=10).commit_many(retry, timeout_s=180)
        assert all(s.status == "committed" for s in final), [s for s in final if s.status != "committed"][:5]
        self.log(f"resubmitted {len(retry)} unacknowledged votes; all committed")
        network.wait_same_head(timeout=120)
        chains = read_chains(network)
        hashes = check_one_chain(chains)
        expected = check_votes(chains, records)
        for stalled, restored_at in self.stalls:
            check_no_commit_while_stalled(chains, stalled, restored_at)
        check_tallies(network, expected)
        self.log(f"{len(hashes)} identical blocks on 4 nodes; {sum(expected.values())} votes; tally {dict(expected)}")
        codes = network.shutdown()
        assert set(codes.values()) == {0}, f"nodes did not stop cleanly: {codes}\n{network.logs()}"
        check_verify_databases(network, expected)


def run_plan(network: ProcessNetwork, plan: Plan, tmp_path: Path) -> None:
    seed = int(os.environ.get("FAULT_SEED", "20261122"))
    print(f"FAULT_SEED={seed}")
    fault_run = FaultRun(network, plan, seed)
    try:
        fault_run.run(tmp_path)
    except BaseException as exc:
        if fault_run.stream is not None:
            print(f"stream: {fault_run.stream.summary()}")
        raise AssertionError(f"{exc}\n{network.logs(60)}") from exc


@pytest.mark.timeout(600)
def test_votes_survive_kill_pause_isolation_and_quorum_loss(network: ProcessNetwork, tmp_path: Path) -> None:
    run_plan(network, CI_PLAN, tmp_path)


@pytest.mark.skipif(not LONG_RUNS, reason="long run: set LEDGER_LONG_TESTS=1")
@pytest.mark.timeout(3600)
def test_long_fault_run(network: ProcessNetwork, tmp_path: Path) -> None:
    run_plan(network, LONG_PLAN, tmp_path)
