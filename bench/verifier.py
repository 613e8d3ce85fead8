"""Standalone verifier throughput on a large election bundle (issue #7: >= 20,000 votes/s on 2 cores).

    .venv/bin/python bench/verifier.py [--votes 1000000] [--workers 2] [--checkins] [--ecdsa-sample 2000]

Builds (once, cached under var/bench/) an evote-bundle of one election: stations of 1,000
registered voters, tokens minted 1,000 per ``mint`` transaction, then one signed vote per
token in blocks of --block-txs transfers (with --checkins, a check-in before every vote, as
at a polling station). The chain is built by ``ledger.core`` (its state roots and
certificates are the reference's); the votes are signed with ``cryptography``.

Then times ``python -m verifier BUNDLE --crypto cryptography --workers N`` in a subprocess
(wall clock, whole command: decompression, canonical checks, every signature and
certificate, re-execution, state roots, tally) and a short bundle with ``--crypto ecdsa``
for the pure-Python per-vote rate. Prints one JSON object on stdout (the figures, the
configuration, CPU per vote, the load before and after, and ``openssl speed`` verifies/s
taken right before the run as a yardstick for this shared machine); progress on stderr.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.bundle import BundleContent, BundleStream, core_blocks, core_contracts  # noqa: E402
from ledger.core import crypto  # noqa: E402
from ledger.core.block import CommitCertificate, sign_vote  # noqa: E402
from ledger.core.contracts import contract_source_sha256  # noqa: E402
from ledger.core.contracts.vote import candidate_address  # noqa: E402
from ledger.core.genesis import Authority, ContractPin, Genesis, Validator  # noqa: E402
from ledger.core.machine import Ledger  # noqa: E402
from ledger.core.tx import Transaction, make_tx  # noqa: E402
from verifier.txcheck import TxChecker  # noqa: E402

CACHE = ROOT / "var" / "bench"
CHAIN = "bench-verifier"
ELECTION = "bench-2026"
CANDIDATES = ("c1", "c2", "c3", "c4")
STATION_VOTERS = 1_000
GENESIS_TIME = 1_767_225_600_000
FORMAT_REVISION = 1  # bump when the generated chain changes, to rebuild cached bundles


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def key(label: str) -> crypto.PrivateKey:
    return crypto.PrivateKey.from_secret(hashlib.sha256(b"bench-verifier:" + label.encode()).digest())


class _AlreadyChecked:
    """The generator just signed every transaction itself: the reference skips re-checking them."""

    def __contains__(self, item: object) -> bool:
        return True


def _network() -> tuple[Genesis, dict[str, crypto.PrivateKey], crypto.PrivateKey]:
    validators = {f"node-{i}": key(f"validator-{i}") for i in range(4)}
    authority = key("authority")
    genesis = Genesis(
        chain=CHAIN, time=GENESIS_TIME,
        validators=tuple(Validator(id=vid, name=f"Municipal node {i}", pubkey=k.public_key, power=1)
                         for i, (vid, k) in enumerate(validators.items())),
        authorities=(Authority(id="commission", name="Election commission", pubkey=authority.public_key),),
        contracts=tuple(ContractPin(id=cid, source_sha256=contract_source_sha256(cid)) for cid in ("system", "vote")),
        params={},
    )
    return genesis, validators, authority


def _sign_votes(job: tuple[int, int, bool]) -> list[tuple[bytes, bytes, bytes | None]]:
    """(token address, vote bytes, check-in bytes) for tokens start..end (runs in a pool)."""
    start, end, checkins = job
    genesis, _, authority = _network()
    result = []
    for index in range(start, end):
        token = key(f"token-{index}")
        to = candidate_address(ELECTION, CANDIDATES[index * 7919 % len(CANDIDATES)])
        vote = make_tx(token, chain=CHAIN, contract="vote", type="transfer", payload={"election": ELECTION, "to": to})
        checkin = None
        if checkins:
            station = f"st-{index // STATION_VOTERS:04d}"
            checkin = make_tx(authority, chain=CHAIN, contract="vote", type="checkin", payload={
                "election": ELECTION, "station": station,
                "checkin": hashlib.sha256(f"checkin-{index}".encode()).hexdigest()}).to_bytes()
        result.append((bytes.fromhex(token.address), vote.to_bytes(), checkin))
    return result


def _certify(validators: dict[str, crypto.PrivateKey], header: Any) -> CommitCertificate:
    votes = [sign_vote(k, chain=header.chain, kind="precommit", height=header.height, round=header.round,
                       block=header.hash, validator=vid) for vid, k in sorted(validators.items())]
    return CommitCertificate.from_votes(votes)


def build_bundle(path: Path, votes: int, block_txs: int, checkins: bool) -> None:
    """Generate the chain block by block and stream it into a bundle (blocks go to a temp file first)."""
    genesis, validators, authority = _network()
    ledger = Ledger(genesis)
    blocks_file = path.with_suffix(".blocks.tmp")
    stream = BundleStream()
    now = GENESIS_TIME
    stations = -(-votes // STATION_VOTERS)

    def seal(txs: list[Transaction], out: Any) -> None:
        nonlocal now
        now += 1_000
        height = ledger.height + 1
        result = ledger.build_block(txs, proposer=genesis.proposer_for(height, 0).id, round=0, time=now,
                                    verified=_AlreadyChecked())
        if result.rejected:
            tx, error = result.rejected[0]
            raise SystemExit(f"generator bug: {tx.type} rejected: {error.code} {error.message}")
        ledger.commit(result.pending)
        block = result.pending.block
        for bundle_block in core_blocks([(block, _certify(validators, block.header))]):
            out.write(b"".join(stream.block(bundle_block)))

    def authority_tx(type_: str, payload: dict[str, Any]) -> Transaction:
        return make_tx(authority, chain=CHAIN, contract="vote", type=type_, payload=payload)

    started = time.monotonic()
    with blocks_file.open("wb") as out:
        create = authority_tx("create", {
            "election": ELECTION, "title": "Benchmark election", "opens_at": GENESIS_TIME + 10_000_000,
            "closes_at": GENESIS_TIME + 10**12, "candidates": [{"id": c, "name": c.upper()} for c in CANDIDATES]})
        registers = [authority_tx("register", {"election": ELECTION, "station": f"st-{s:04d}",
                                               "voters": STATION_VOTERS}) for s in range(stations)]
        seal([create, *registers[:999]], out)
        for offset in range(999, len(registers), 1000):
            seal(registers[offset:offset + 1000], out)
        with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
            chunk = 5_000
            signed: list[tuple[bytes, bytes, bytes | None]] = []
            for part in pool.imap(_sign_votes, [(s, min(s + chunk, votes), checkins)
                                                for s in range(0, votes, chunk)]):
                signed.extend(part)
                log(f"signed {len(signed)}/{votes} votes ({time.monotonic() - started:.0f}s)")
        mints = [authority_tx("mint", {"election": ELECTION, "station": f"st-{s:04d}",
                                       "tokens": [a.hex() for a, _, _ in signed[s * STATION_VOTERS:(s + 1) * STATION_VOTERS]]})
                 for s in range(stations)]
        for offset in range(0, len(mints), 5):
            seal(mints[offset:offset + 5], out)
        now = max(now, GENESIS_TIME + 10_000_000 - 1_000)
        seal([authority_tx("open", {"election": ELECTION})], out)
        per_block = block_txs // 2 if checkins else block_txs
        for offset in range(0, votes, per_block):
            txs: list[Transaction] = []
            for _, vote, checkin in signed[offset:offset + per_block]:
                if checkin is not None:
                    txs.append(Transaction.from_bytes(checkin))
                txs.append(Transaction.from_bytes(vote))
            seal(txs, out)
            if ledger.height % 100 == 0:
                log(f"sealed block {ledger.height}: {offset + per_block} votes ({time.monotonic() - started:.0f}s)")
        seal([authority_tx("close", {"election": ELECTION})], out)
    tally = ledger.query("vote", "tally", {"election": ELECTION})
    content = BundleContent(genesis=genesis.to_bytes().decode(), head_height=ledger.height,
                            head_hash=ledger.head_hash.hex(), contracts=core_contracts(genesis), blocks=(),
                            results=[{"election": ELECTION, "result": tally}], exporter="bench/verifier.py",
                            created_at="2026-01-01T00:00:00+00:00")
    partial = path.with_suffix(".part")
    final = BundleStream()
    with gzip.open(partial, "wb", compresslevel=1) as bundle, blocks_file.open("rb") as blocks:
        bundle.write(b"".join(final.prologue(content)))
        while data := blocks.read(1 << 24):
            cut = data.rfind(b"\n") + 1  # whole lines only, the rest goes with the next read
            blocks.seek(cut - len(data), os.SEEK_CUR)
            bundle.write(final.counted(data[:cut], lines=data.count(b"\n", 0, cut), blocks=0, txs=0))
        final.blocks, final.txs = stream.blocks, stream.txs
        bundle.write(b"".join(final.epilogue((), content.results)))
    blocks_file.unlink()
    partial.replace(path)
    log(f"bundle {path} built in {time.monotonic() - started:.0f}s")


def bundle_for(votes: int, block_txs: int, checkins: bool) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"verifier-{votes}-{block_txs}{'-checkins' if checkins else ''}-r{FORMAT_REVISION}.jsonl.gz"
    if not path.exists():
        build_bundle(path, votes, block_txs, checkins)
    return path


def run_verifier(path: Path, impl: str, workers: int) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "verifier", str(path), "--crypto", impl, "--workers",
                             str(workers), "--json"], capture_output=True, text=True, cwd=ROOT)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"verifier exit {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return seconds, json.loads(result.stdout)


def openssl_floor_us(samples: int = 2_000) -> float:
    """CPU us to parse a fresh P-256 key and verify one signature with OpenSSL: the floor per vote."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    keys = [key(f"floor-{i}") for i in range(samples)]
    message = b"EVOTE-TX-V1:" + bytes(32)
    signed = [(k.public_key, k.sign(message)) for k in keys]
    algorithm, curve = ec.ECDSA(hashes.SHA256()), ec.SECP256R1()
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: PLC0415

    der = [(public, encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")))
           for public, sig in signed]
    started = time.process_time()
    for public, signature in der:
        ec.EllipticCurvePublicKey.from_encoded_point(curve, public).verify(signature, message, algorithm)
    return round((time.process_time() - started) / samples * 1e6, 1)


def openssl_speed_verify_per_s(seconds: int = 3) -> float | None:
    """``openssl speed -seconds N ecdsap256`` verifies per second on one core: the yardstick of a run.

    The machine is shared, so a rate means little alone; divided by this figure, taken
    right before the run, it can be compared across runs at different loads.
    """
    try:
        result = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "ecdsap256"], capture_output=True,
                                text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in result.stdout.splitlines():
        if "nistp256" in line and "ecdsa" in line:
            try:
                return float(line.split()[-1])
            except ValueError:
                return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--block-txs", type=int, default=1_000, help="transactions per vote block")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="verifier worker processes (default: the usable CPUs, as the verifier's own default)")
    parser.add_argument("--no-yardstick", action="store_true", help="skip the openssl speed run before timing")
    parser.add_argument("--checkins", action="store_true", help="a check-in transaction before every vote")
    parser.add_argument("--ecdsa-sample", type=int, default=2_000, help="votes in the pure-Python ecdsa sample")
    parser.add_argument("--build-only", action="store_true", help="build (and cache) the bundles, time nothing")
    args = parser.parse_args()
    path = bundle_for(args.votes, args.block_txs, args.checkins)
    if args.build_only:
        if args.ecdsa_sample:
            bundle_for(args.ecdsa_sample, args.block_txs, args.checkins)
        print(json.dumps({"built": str(path), "bundle_bytes": path.stat().st_size}))
        return
    yardstick = None if args.no_yardstick else openssl_speed_verify_per_s()
    load_before = list(os.getloadavg())
    log(f"verifying {path} with cryptography, {args.workers} workers")
    seconds, report = run_verifier(path, "cryptography", args.workers)
    load_after = list(os.getloadavg())
    figures: dict[str, Any] = {
        "votes": report["votes"], "txs": report["txs"], "blocks": report["blocks"], "seconds": round(seconds, 2),
        "votes_per_s": round(report["votes"] / seconds, 1), "txs_per_s": round(report["txs"] / seconds, 1),
        "crypto_impl": "cryptography", "workers": args.workers, "block_txs": args.block_txs,
        "checkins": args.checkins, "bundle_bytes": path.stat().st_size, "ok": report["ok"],
        "batch_lines": TxChecker.BATCH, "loadavg_before": load_before, "loadavg_after": load_after,
        "openssl_speed_verify_per_s": yardstick,
        # votes/s per (OpenSSL verifies/s of one core): 2.0 would be two cores doing nothing but OpenSSL verifies
        "votes_per_s_over_openssl_core": round(report["votes"] / seconds / yardstick, 3) if yardstick else None,
    }
    cpu = report.get("cpu_seconds") or {}
    if cpu and report["votes"]:
        figures.update(cpu_main_s=cpu["main"], cpu_workers_s=cpu["workers"],
                       cpu_main_us_per_vote=round(cpu["main"] / report["votes"] * 1e6, 1),
                       cpu_workers_us_per_vote=round(cpu["workers"] / report["votes"] * 1e6, 1))
    figures.update(openssl_parse_verify_us=openssl_floor_us())
    if args.ecdsa_sample:
        sample = bundle_for(args.ecdsa_sample, args.block_txs, args.checkins)
        log(f"verifying {sample} with ecdsa, {args.workers} workers")
        ecdsa_seconds, ecdsa_report = run_verifier(sample, "ecdsa", args.workers)
        figures.update(ecdsa_votes=ecdsa_report["votes"], ecdsa_seconds=round(ecdsa_seconds, 2),
                       ecdsa_votes_per_s=round(ecdsa_report["votes"] / ecdsa_seconds, 1))
    figures.update(cpus=os.cpu_count(), python=platform.python_version(), loadavg=list(os.getloadavg()))
    cpu_us = figures.get("cpu_main_us_per_vote", 0) + figures.get("cpu_workers_us_per_vote", 0)
    if cpu_us:  # the rate two fully free cores would give at this CPU cost per vote
        figures.update(cpu_us_per_vote=round(cpu_us, 1), votes_per_s_two_free_cores=round(2e6 / cpu_us))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
