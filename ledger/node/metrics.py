"""Prometheus text exposition of a node's figures (no client library needed for a handful)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RATE_WINDOW_MS = 60_000


def is_vote(contract: str, tx_type: str) -> bool:
    """A vote is the vote contract's ``transfer``: the unit a token spends on a candidate."""
    return contract == "vote" and tx_type == "transfer"


@dataclass
class RecentRate:
    """Events per second over the last minute, for a dashboard that has no Prometheus ``rate()``.

    Prometheus should compute rates from the counter; this gauge exists for ``curl`` and the
    status page. Only commits are recorded (one entry per stored block), so it stays small.
    """

    window_ms: int = RATE_WINDOW_MS
    events: deque[tuple[int, int]] = field(default_factory=deque)
    in_window: int = 0

    def add(self, now_ms: int, count: int) -> None:
        if count:
            self.events.append((now_ms, count))
            self.in_window += count
        self._expire(now_ms)

    def per_second(self, now_ms: int) -> float:
        self._expire(now_ms)
        return self.in_window / (self.window_ms / 1000)

    def _expire(self, now_ms: int) -> None:
        while self.events and self.events[0][0] <= now_ms - self.window_ms:
            self.in_window -= self.events.popleft()[1]


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_S))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.total += value
        self.count += 1
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for bound, count in zip(self.buckets, self.counts):
            lines.append(f'{name}_bucket{{le="{bound}"}} {count}')
        lines += [f'{name}_bucket{{le="+Inf"}} {self.count}', f"{name}_sum {self.total:.6f}", f"{name}_count {self.count}"]
        return lines


@dataclass
class NodeMetrics:
    blocks_committed: int = 0
    txs_committed: int = 0
    votes_committed: int = 0  # vote transfers in stored blocks; Prometheus takes rate() of it
    txs_admitted: int = 0
    txs_rejected: int = 0
    bad_frames: int = 0
    gossip_dropped: int = 0
    commit_latency: Histogram = field(default_factory=Histogram)  # block time -> local commit
    tx_latency: Histogram = field(default_factory=Histogram)  # local admission -> stored
    vote_rate: RecentRate = field(default_factory=RecentRate)

    def record_block(self, *, now_ms: int, txs: int, votes: int, latency_s: float) -> None:
        """Count one stored block (called once per block, in height order)."""
        self.blocks_committed += 1
        self.txs_committed += txs
        self.votes_committed += votes
        self.vote_rate.add(now_ms, votes)
        self.commit_latency.observe(latency_s)

    def render(self, *, node: str, height: int, persisted_height: int, peers: int, mempool: int, round: int,
               frames_dropped: int, now_ms: int) -> str:
        label = f'{{node="{node}"}}'
        gauges = [
            ("ledger_height", "Height of the last committed block.", height),
            ("ledger_persisted_height", "Height of the last block stored in the database.", persisted_height),
            ("ledger_peers_connected", "Peers with an open outbound connection.", peers),
            ("ledger_mempool_size", "Transactions waiting for a block.", mempool),
            ("ledger_consensus_round", "Consensus round at the current height.", round),
            ("ledger_votes_per_second", "Votes stored per second over the last 60 seconds.",
             round_rate(self.vote_rate.per_second(now_ms))),
        ]
        counters = [
            ("ledger_blocks_committed_total", "Blocks committed since start.", self.blocks_committed),
            ("ledger_txs_committed_total", "Transactions committed since start.", self.txs_committed),
            ("ledger_votes_committed_total", "Vote transfers committed since start.", self.votes_committed),
            ("ledger_txs_admitted_total", "Transactions admitted to the mempool.", self.txs_admitted),
            ("ledger_txs_rejected_total", "Transactions refused at admission.", self.txs_rejected),
            ("ledger_peer_bad_frames_total", "Undecodable frames received from peers.", self.bad_frames),
            ("ledger_peer_frames_dropped_total", "Outbound frames dropped on full queues.", frames_dropped),
            ("ledger_gossip_frames_dropped_total", "Inbound gossip frames dropped while verification was behind.",
             self.gossip_dropped),
        ]
        lines: list[str] = []
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{label} {value}"]
        for name, help_text, value in counters:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name}{label} {value}"]
        lines += self.commit_latency.render("ledger_commit_latency_seconds",
                                            "Seconds from a block's timestamp to its local commit.")
        lines += self.tx_latency.render("ledger_tx_commit_latency_seconds",
                                        "Seconds from admitting a transaction here to storing its block.")
        return "\n".join(lines) + "\n"


def round_rate(value: float) -> float:
    return round(value, 3)
