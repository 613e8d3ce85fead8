"""Ledger core throughput: signature checks, vote execution and full-chain verification.

    .venv/bin/python bench/ledger_core.py [--votes 100000] [--block-txs 1000] [--workers 2]

Prints one JSON object on stdout (progress goes to stderr):
  verify_per_s          ledger.core.crypto.verify, one core, a distinct token key per call
  openssl_verify_per_s  raw `cryptography` P-256 verify, key object preloaded (reference)
  ecdsa_verify_per_s    ledger.core.crypto.verify(impl="ecdsa"), the pure-Python path
  apply_per_s           votes per second through the validator path on one core: block
                        bytes -> Block.from_bytes -> Ledger.execute_block (every signature
                        checked) -> commit, on blocks of --block-txs transfers
  build_per_s           the proposer path: each vote's bytes -> Transaction.from_bytes ->
                        Ledger.build_block (signatures checked) -> commit
  chain_votes, chain_verify_s
                        verify_chain from genesis over a chain holding --votes votes (plus
                        the create/register/mint/open blocks), streamed from block bytes
  chain_verify_workers_s
                        the same with verify_chain(workers=--workers) (signature checks in
                        worker processes), when --workers > 1
No database and no Django: this measures ledger/core alone.

Per-core rates divide by the CPU time of this process (time.process_time), so other
load on the machine does not count against them; chain_verify_s is wall-clock time
(chain_verify_cpu_s is its CPU time), the figure an observer waits for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402

from ledger.core import crypto  # noqa: E402
from ledger.core.block import Block, BlockHeader, CommitCertificate, sign_vote  # noqa: E402
from ledger.core.contracts import contract_source_sha256  # noqa: E402
from ledger.core.contracts.vote import MAX_MINT_BATCH, candidate_address  # noqa: E402
from ledger.core.genesis import Authority, ContractPin, Genesis, Validator  # noqa: E402
from ledger.core.machine import Ledger  # noqa: E402
from ledger.core.tx import Transaction, make_tx  # noqa: E402
from ledger.core.verify import verify_chain  # noqa: E402

CHAIN = "bench"
GENESIS_TIME = 1_767_225_600_000
ELECTION = "bench-2026"
CANDIDATES = ("c1", "c2", "c3", "c4")
STATION_VOTERS = 1_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def key(label: str) -> crypto.PrivateKey:
    return crypto.PrivateKey.from_secret(hashlib.sha256(b"bench:" + label.encode()).digest())


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def best_of(runs: int, work: Callable[[], int]) -> float:
    """Best rate over ``runs`` repetitions of ``work`` (which returns its item count)."""
    best = 0.0
    for _ in range(runs):
        start = time.process_time()
        count = work()
        best = max(best, count / (time.process_time() - start))
    return round(best, 1)


# --- signatures -----------------------------------------------------------------------

def signed_messages(count: int) -> list[tuple[crypto.PrivateKey, bytes, bytes]]:
    keys = [crypto.PrivateKey.generate() for _ in range(count)]
    messages = [b"EVOTE-TX-V1:" + os.urandom(32) for _ in range(count)]
    return [(k, m, k.sign(m)) for k, m in zip(keys, messages)]


def bench_signatures(count: int) -> dict[str, float]:
    items = signed_messages(count)
    triples = [(k.public_key, s, m) for k, m, s in items]

    def ours() -> int:
        crypto._load_openssl_key.cache_clear()  # every vote comes from a new token key
        for public_key, sig, message in triples:
            crypto.verify(public_key, sig, message)
        return len(triples)

    loaded = [(k._key.public_key(), encode_dss_signature(*crypto.split_signature(s)), m) for k, m, s in items]
    algorithm = ec.ECDSA(hashes.SHA256())

    def openssl() -> int:
        for public_key, der, message in loaded:
            public_key.verify(der, message, algorithm)
        return len(loaded)

    few = triples[:100]

    def pure_python() -> int:
        for public_key, sig, message in few:
            crypto.verify(public_key, sig, message, "ecdsa")
        return len(few)

    return {
        "verify_per_s": best_of(3, ours),
        "openssl_verify_per_s": best_of(3, openssl),
        "ecdsa_verify_per_s": best_of(1, pure_python),
    }


# --- an election chain ----------------------------------------------------------------

class Network:
    def __init__(self, validators: int = 4) -> None:
        self.validator_keys = {f"node-{i}": key(f"validator-{i}") for i in range(validators)}
        self.authority = key("authority")
        self.genesis = Genesis(
            chain=CHAIN, time=GENESIS_TIME,
            validators=tuple(Validator(v, v, k.public_key, 1) for v, k in self.validator_keys.items()),
            authorities=(Authority("commission", "Election commission", self.authority.public_key),),
            contracts=tuple(ContractPin(c, contract_source_sha256(c)) for c in ("system", "vote")),
            params={"max_block_txs": 5_000},
        )

    def certify(self, header: BlockHeader) -> CommitCertificate:
        votes = [sign_vote(k, chain=CHAIN, kind="precommit", height=header.height, round=header.round, block=header.hash,
                           validator=v) for v, k in sorted(self.validator_keys.items())]
        return CommitCertificate.from_votes(votes)

    def tx(self, type: str, payload: dict[str, Any], signer: crypto.PrivateKey | None = None) -> Transaction:
        return make_tx(signer or self.authority, chain=CHAIN, contract="vote", type=type, payload=payload)


class ChainWriter:
    """Seals blocks on a ledger; keeps each block's bytes and certificate."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.ledger = Ledger(network.genesis)
        self.blocks: list[tuple[bytes, CommitCertificate]] = []

    def seal(self, txs: list[Transaction], *, trusted: bool = True) -> Block:
        ledger = self.ledger
        height = ledger.height + 1
        verified = frozenset((tx.id, tx.sig) for tx in txs) if trusted else frozenset()
        result = ledger.build_block(txs, proposer=self.network.genesis.proposer_for(height, 0).id, round=0,
                                    time=ledger.head_time + 1_000, verified=verified)
        if result.rejected:
            tx, error = result.rejected[0]
            raise RuntimeError(f"{tx.type} rejected: {error.code} {error.message}")
        ledger.commit(result.pending)
        block = result.pending.block
        self.blocks.append((block.to_bytes(), self.network.certify(block.header)))
        return block


def setup_election(writer: ChainWriter, voters: int) -> list[crypto.PrivateKey]:
    """create + register + mint (+ open): returns the token keys, in station order."""
    network = writer.network
    stations = [f"st-{i:04d}" for i in range((voters + STATION_VOTERS - 1) // STATION_VOTERS)]
    writer.seal([network.tx("create", {
        "election": ELECTION, "title": "Benchmark election", "opens_at": GENESIS_TIME, "closes_at": GENESIS_TIME + 10**12,
        "candidates": [{"id": c, "name": c.upper()} for c in CANDIDATES],
    })])
    writer.seal([network.tx("register", {"election": ELECTION, "station": s, "voters": STATION_VOTERS}) for s in stations])
    tokens = [crypto.PrivateKey.generate() for _ in range(voters)]
    mints = []
    for i, station in enumerate(stations):
        batch = tokens[i * STATION_VOTERS:(i + 1) * STATION_VOTERS]
        for j in range(0, len(batch), MAX_MINT_BATCH):
            mints.append(network.tx("mint", {"election": ELECTION, "station": station,
                                             "tokens": [t.address for t in batch[j:j + MAX_MINT_BATCH]]}))
    for j in range(0, len(mints), 50):
        writer.seal(mints[j:j + 50])
    writer.seal([network.tx("open", {"election": ELECTION})])
    return tokens


def votes_for(network: Network, tokens: list[crypto.PrivateKey]) -> list[Transaction]:
    addresses = [candidate_address(ELECTION, c) for c in CANDIDATES]
    return [network.tx("transfer", {"election": ELECTION, "to": addresses[i % len(addresses)]}, signer=t)
            for i, t in enumerate(tokens)]


def build_chain(votes: int, block_txs: int) -> tuple[Network, ChainWriter]:
    network = Network()
    writer = ChainWriter(network)
    started = time.perf_counter()
    tokens = setup_election(writer, votes)
    txs = votes_for(network, tokens)
    log(f"signed {votes} votes in {time.perf_counter() - started:.1f}s")
    for i in range(0, len(txs), block_txs):
        writer.seal(txs[i:i + block_txs])
    log(f"chain of {writer.ledger.height} blocks built in {time.perf_counter() - started:.1f}s")
    return network, writer


# --- execution and verification -------------------------------------------------------

def bench_apply(votes: int, block_txs: int) -> dict[str, float]:
    """Validator path and proposer path on fresh ledgers over the same blocks."""
    network, writer = build_chain(votes, block_txs)
    setup_blocks = len(writer.blocks) - (votes + block_txs - 1) // block_txs
    vote_blocks = writer.blocks[setup_blocks:]

    def fresh_ledger() -> Ledger:
        ledger = Ledger(network.genesis)
        for data, _ in writer.blocks[:setup_blocks]:
            ledger.apply_block(Block.from_bytes(data), verified=frozenset((t.id, t.sig) for t in Block.from_bytes(data).txs))
        return ledger

    apply_s = float("inf")
    for _ in range(2):
        ledger = fresh_ledger()
        crypto._load_openssl_key.cache_clear()
        start = time.process_time()
        for data, _ in vote_blocks:
            ledger.commit(ledger.execute_block(Block.from_bytes(data)))
        apply_s = min(apply_s, time.process_time() - start)

    raw_votes = [tx.to_bytes() for data, _ in vote_blocks for tx in Block.from_bytes(data).txs]
    ledger = fresh_ledger()
    crypto._load_openssl_key.cache_clear()
    start = time.process_time()
    for i in range(0, len(raw_votes), block_txs):
        txs = [Transaction.from_bytes(raw) for raw in raw_votes[i:i + block_txs]]
        height = ledger.height + 1
        result = ledger.build_block(txs, proposer=network.genesis.proposer_for(height, 0).id, round=0,
                                    time=ledger.head_time + 1_000)
        ledger.commit(result.pending)
    build_s = time.process_time() - start
    return {"apply_per_s": rate(votes, apply_s), "build_per_s": rate(votes, build_s)}


def bench_chain(votes: int, block_txs: int, workers: int) -> dict[str, Any]:
    network, writer = build_chain(votes, block_txs)

    def stream() -> Iterator[tuple[Block, CommitCertificate]]:
        for data, cert in writer.blocks:
            yield Block.from_bytes(data), cert

    def run(workers: int) -> tuple[float, float]:
        crypto._load_openssl_key.cache_clear()
        start, cpu_start = time.perf_counter(), time.process_time()
        report = verify_chain(network.genesis, stream(), workers=workers)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if not report.ok or report.tallies[ELECTION]["totals"]["spent"] != votes:
            raise RuntimeError(f"chain did not verify: {report.failure}")
        log(f"verify_chain(workers={workers}): {elapsed:.2f}s wall, {cpu:.2f}s CPU in this process, "
            f"{report.txs} transactions in {report.height} blocks")
        return round(elapsed, 2), round(cpu, 2)

    wall, cpu = run(1)
    result: dict[str, Any] = {"chain_votes": votes, "chain_blocks": len(writer.blocks), "chain_verify_s": wall,
                              "chain_verify_cpu_s": cpu}
    if workers > 1:
        result["chain_verify_workers"] = workers
        result["chain_verify_workers_s"] = run(workers)[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=100_000, help="votes in the verified chain (default 100000)")
    parser.add_argument("--apply-votes", type=int, default=20_000, help="votes for apply_per_s/build_per_s")
    parser.add_argument("--block-txs", type=int, default=1_000, help="votes per block (default 1000)")
    parser.add_argument("--signatures", type=int, default=3_000, help="signatures for the verify rates")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the parallel verify_chain figure (1 = skip it)")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    log("signatures...")
    result.update(bench_signatures(args.signatures))
    log(f"apply ({args.apply_votes} votes)...")
    result.update(bench_apply(args.apply_votes, args.block_txs))
    log(f"chain ({args.votes} votes)...")
    result.update(bench_chain(args.votes, args.block_txs, args.workers))
    result["config"] = {
        "python": platform.python_version(), "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(), "n": args.votes, "apply_votes": args.apply_votes, "block_txs": args.block_txs,
        "signatures": args.signatures, "workers": args.workers, "platform": platform.platform(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
