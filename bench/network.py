"""Node network throughput, commit latency and catch-up: N run_node processes on loopback.

    .venv/bin/python bench/network.py [--nodes 4] [--database-url-template URL] [--catchup-blocks 10000]

Prints one JSON object on stdout (progress on stderr). Phases, in this order, in one run:

1. baseline_drf_rps: a bare DRF endpoint that only validates the same vote (serializer and
   P-256 signature, no ledger; bench/_drf_baseline.py) served by uvicorn with one worker
   process per node, loaded by the same generator as phase 3.
2. votes_per_s: committed votes/s over ``--duration`` seconds after ``--warmup``: the votes
   in the blocks the first node stored in that window (``committed_at``; its ``/metrics``
   counter gives ``votes_per_s_metric``), while the generator keeps at most ``--backlog``
   admitted-but-uncommitted votes in flight, posting ``--batch`` votes per ``POST /v1/txs``
   from ``--concurrency`` workers spread over all nodes. ``ratio`` = votes_per_s /
   baseline_drf_rps; ``ratio_single`` = single_votes_per_s / baseline_drf_rps (one vote per
   request on both sides).
3. single_submit_per_s / single_votes_per_s: the same with one vote per request
   (``--single-concurrency`` requests in flight): admitted/s and committed/s.
4. commit_p50_ms / commit_p99_ms: open-loop single-vote submissions at half of
   votes_per_s (each vote its own request, to the nodes in turn) for ``--latency-duration``
   seconds; latency = the ``committed_at`` of the vote's block on the node it was sent to,
   minus the wall time just before its request was sent.
5. catchup_s: every node stops; ``--catchup-blocks`` blocks (``--catchup-block-txs`` votes
   each, certified by every validator's precommit) are appended offline to all databases but
   the last node's; the others restart, then the last node starts and must fetch and verify
   them all (certificates against the genesis, re-execution) from its peers. catchup_s runs
   from its process start to its stored head reaching the network's; catchup_verify_s is a
   ``ledger_verify`` of its database afterwards.

The figures swing by a factor of two between runs when other work shares the two cores:
``config.load_avg_1m_at_start`` records how busy the machine was. Profile a node with
``py-spy record -p <pid> -t -f raw`` during phase 2 (see docs/performance.md).

Every vote is signed before the measurements (signing is the voters' cost, not the
network's). The load generator is an aiohttp client in this process, on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

import aiohttp  # noqa: E402

from bench._netutil import (  # noqa: E402
    BenchNet,
    child_env,
    election_txs,
    extend_chain_offline,
    free_port_block,
    get_json,
    log,
    metric,
    sign_votes,
    wait_ready,
)
from bench import _load  # noqa: E402
from ledger.client import NodeClient  # noqa: E402
from ledger.localnet_runner import _drop  # noqa: E402
from ledger.node.config import read_private_key  # noqa: E402

ELECTION = "bench"
COMMITTED = "ledger_txs_committed_total"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--database-url-template", default="",
                   help="e.g. postgres://postgres@127.0.0.1:5432/bench_{node}; default: a SQLite file per node")
    p.add_argument("--votes", type=int, default=120_000, help="pre-signed votes available to phases 2-4")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--batch", type=int, default=250, help="votes per POST /v1/txs in phase 2")
    p.add_argument("--concurrency", type=int, default=8, help="batch requests in flight in phase 2")
    p.add_argument("--backlog", type=int, default=3_000,
                   help="max admitted-but-uncommitted votes in phase 2 (3 proposals: keeps every proposal full; "
                        "a longer queue slows every commit, see docs/performance.md)")
    p.add_argument("--single-concurrency", type=int, default=64)
    p.add_argument("--single-duration", type=float, default=10.0)
    p.add_argument("--latency-duration", type=float, default=15.0)
    p.add_argument("--latency-rate", type=float, default=0.0, help="votes/s of phase 4 (default: votes_per_s / 2)")
    p.add_argument("--catchup-blocks", type=int, default=10_000)
    p.add_argument("--catchup-block-txs", type=int, default=10)
    p.add_argument("--baseline-duration", type=float, default=10.0)
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--only-baseline", action="store_true", help="measure baseline_drf_rps alone (no nodes)")
    p.add_argument("--consensus", default="{}", help='node consensus overrides as JSON, e.g. {"propose_delay_ms": 20}')
    p.add_argument("--proposal-max-txs", type=int, default=0,
                   help="votes per proposal (node.json proposal.max_txs; default: the node's default)")
    p.add_argument("--dir", type=Path, default=None,
                   help="keep the network (homes, logs, SQLite files, PostgreSQL databases) here; default: a "
                        "temporary directory, deleted with the databases at the end")
    return p.parse_args(argv)


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cpu_count": os.cpu_count(), "load_avg_1m_at_start": round(load[0], 2), "python": platform.python_version(),
            "platform": platform.platform(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# --- phase 1: baseline -------------------------------------------------------------------------


async def baseline(args: argparse.Namespace, session: aiohttp.ClientSession, raws: list[bytes]) -> dict[str, Any]:
    port = free_port_block(1)
    command = [sys.executable, "-m", "uvicorn", "bench._drf_baseline:application", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(args.nodes), "--no-access-log", "--log-level", "warning"]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(command, cwd=root, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                async with session.post(url + "/v1/txs", data=raws[0],
                                        headers={"Content-Type": "application/json"}) as response:
                    body = await response.json(content_type=None)
                    if response.status != 202:
                        raise RuntimeError(f"baseline answered {response.status}: {body}")
                    break
            except (aiohttp.ClientError, OSError):
                if time.monotonic() > deadline or server.poll() is not None:
                    errors = server.stderr.read().decode()[-2000:] if server.stderr else ""
                    raise RuntimeError(f"baseline server did not start: {errors}")
                await asyncio.sleep(0.3)
        source = _load.cycle(raws)
        await _load.singles(session, [url], source, concurrency=args.single_concurrency, duration_s=2.0,
                            accepted_status=(202,))  # warm-up
        result = await _load.singles(session, [url], source, concurrency=args.single_concurrency,
                                     duration_s=args.baseline_duration, accepted_status=(202,))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"baseline_drf_rps": round(result.per_s, 1), "baseline_errors": result.errors}


# --- phases 2-4 --------------------------------------------------------------------------------


async def drain(session: aiohttp.ClientSession, urls: list[str], timeout: float = 300) -> int:
    """Until every node's mempool is empty and all store the same height; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = await asyncio.gather(*[get_json(session, u + "/v1/status") for u in urls])
        heights = {s["persisted_height"] for s in statuses}
        if len(heights) == 1 and all(s["mempool_size"] == 0 for s in statuses):
            return heights.pop()
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the network did not drain in {timeout}s")


async def run_network_phases(args: argparse.Namespace, net: BenchNet, votes: Any) -> dict[str, Any]:
    urls = [net.url(n) for n in net.ids]
    out: dict[str, Any] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        for node_id in net.ids:
            await wait_ready(session, net.url(node_id), alive=functools.partial(net.alive, node_id))
        reserve = min(len(votes.raws) // 4, int(args.latency_duration * 1500))  # phase 4's votes
        pool = _load.VotePool(votes.raws[reserve:], votes.ids[reserve:])
        latency_pool = _load.VotePool(votes.raws[:reserve], votes.ids[:reserve])
        start_height = await drain(session, urls)
        log(f"phase 2: batches of {args.batch}, {args.concurrency} in flight, for {args.warmup + args.duration:.0f}s")
        throughput = await _load.batched(session, urls, pool, batch=args.batch, concurrency=args.concurrency,
                                         backlog=args.backlog, warmup_s=args.warmup, duration_s=args.duration,
                                         committed=lambda: metric(session, urls[0], COMMITTED))
        votes_per_s = await _load.committed_in(session, urls[0], start_height + 1, throughput.window)
        out.update(votes_per_s=round(votes_per_s, 1), votes_per_s_metric=round(throughput.committed_per_s, 1),
                   admitted_per_s=round(throughput.admitted_per_s, 1), batched_pool_exhausted=throughput.exhausted)
        log(f"phase 2: {out}")
        start_height = await drain(session, urls)
        single = await _load.singles(session, urls, pool.next_raw, concurrency=args.single_concurrency,
                                     duration_s=args.single_duration)
        committed = await _load.committed_in(session, urls[0], start_height + 1, single.window)
        out.update(single_submit_per_s=round(single.per_s, 1), single_votes_per_s=round(committed, 1),
                   single_errors=single.errors)
        log(f"phase 3: single {single.per_s:.0f}/s admitted, {committed:.0f}/s committed")
        height = await drain(session, urls)
        rate = args.latency_rate or max(1.0, votes_per_s / 2)
        sent = await _load.open_loop(session, urls, latency_pool, rate=rate, duration_s=args.latency_duration)
        out["latency_pool_exhausted"] = len(sent) < int(rate * args.latency_duration)
        await drain(session, urls)
        latency = await _load.commit_latencies(session, urls, sent, from_height=height + 1)
        out.update(latency_rate=round(rate, 1), **latency)
        log(f"phase 4: {latency}")
    return out


# --- phase 5 -----------------------------------------------------------------------------------


async def catch_up(args: argparse.Namespace, net: BenchNet) -> dict[str, Any]:
    lagger, others = net.ids[-1], net.ids[:-1]
    net.stop_all()
    started = time.monotonic()
    target = await asyncio.to_thread(extend_chain_offline, net, others, args.catchup_blocks, args.catchup_block_txs)
    generated_s = time.monotonic() - started
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        restart = time.monotonic()
        for node_id in others:
            net.start(node_id)
        for node_id in others:
            await wait_ready(session, net.url(node_id), timeout=1800, alive=functools.partial(net.alive, node_id))
        peers_restart_s = time.monotonic() - restart
        log(f"phase 5: {len(others)} nodes replayed up to {target} in {peers_restart_s:.1f}s; starting {lagger}")
        started = time.monotonic()
        net.start(lagger)
        while True:
            try:
                status = await get_json(session, net.url(lagger) + "/v1/status", 5)
                if status["persisted_height"] >= target:
                    break
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                if not net.alive(lagger):
                    raise RuntimeError(f"{lagger} exited during catch-up; see {net.home(lagger)}/node.log") from None
            await asyncio.sleep(0.1)
        catchup_s = time.monotonic() - started
        theirs = await get_json(session, net.url(others[0]) + f"/v1/blocks/{target}")
        mine = await get_json(session, net.url(lagger) + f"/v1/blocks/{target}")
        if theirs["hash"] != mine["hash"]:
            raise RuntimeError(f"{lagger} caught up to another block at {target}")
    verify_started = time.monotonic()
    check = subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "manage.py"), "ledger_verify",
                            "--json", "--no-progress"], env=child_env(net.database_urls[lagger]),
                           capture_output=True, text=True, check=False)
    verify_s = time.monotonic() - verify_started
    verified = check.returncode == 0 and json.loads(check.stdout)["ok"] is True
    return {"catchup_blocks": args.catchup_blocks, "catchup_s": round(catchup_s, 2),
            "catchup_blocks_per_s": round(args.catchup_blocks / catchup_s, 1), "catchup_head": target,
            "catchup_verified": verified, "catchup_verify_s": round(verify_s, 2),
            "catchup_peers_restart_s": round(peers_restart_s, 2), "catchup_generate_s": round(generated_s, 1)}


# --- main --------------------------------------------------------------------------------------


def setup_election(net: BenchNet, count: int) -> Any:
    log(f"signing {count} votes")
    votes = sign_votes(net.localnet.chain, ELECTION, count, "bench")
    log(f"setting up the election ({count} tokens)")
    authority = read_private_key(net.localnet.authority_key_path)
    txs = election_txs(authority, net.localnet.chain, ELECTION, [k.address for k in votes.keys])
    statuses = NodeClient([net.url(net.ids[0])], timeout_s=60).commit_many(txs, timeout_s=600)
    if {s.status for s in statuses} != {"committed"}:
        raise RuntimeError(f"election setup failed: {[s for s in statuses if s.status != 'committed'][:3]}")
    return votes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    consensus = json.loads(args.consensus)
    result: dict[str, Any] = {"nodes": args.nodes}
    config = {"nodes": args.nodes, "db": "postgresql" if args.database_url_template.startswith("postgres") else "sqlite",
              "consensus_overrides": consensus, **machine(),
              "load_generator": "aiohttp client, one asyncio loop in the bench process, on the same machine",
              "batch": args.batch, "concurrency": args.concurrency, "backlog": args.backlog,
              "single_concurrency": args.single_concurrency, "warmup_s": args.warmup, "duration_s": args.duration,
              "single_duration_s": args.single_duration, "latency_duration_s": args.latency_duration,
              "baseline_duration_s": args.baseline_duration, "catchup_block_txs": args.catchup_block_txs,
              "baseline": f"DRF APIView + serializer + P-256 verify, uvicorn --workers {args.nodes}"}
    if args.only_baseline:
        votes = sign_votes("bench", ELECTION, 2000, "baseline")
        result.update(asyncio.run(_baseline_alone(args, votes.raws)), config=config)
        print(json.dumps(result, indent=2))
        return 0
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench-network-"))
    net = BenchNet.create(directory / "net", args.nodes, args.database_url_template, consensus)
    if args.proposal_max_txs:
        net.set_proposal_max_txs(args.proposal_max_txs)
    config["proposal_max_txs"] = net.proposal_max_txs()
    config["dir"] = str(directory)
    try:
        for node_id in net.ids:
            net.start(node_id)
        votes = setup_election(net, args.votes)
        if not args.skip_baseline:
            net.stop_all()  # the baseline gets the machine to itself
            result.update(asyncio.run(_baseline_alone(args, votes.raws)))
            for node_id in net.ids:
                net.start(node_id)
        result.update(asyncio.run(run_network_phases(args, net, votes)))
        result.update(asyncio.run(catch_up(args, net)))
    finally:
        net.stop_all()
        if args.dir is None:
            for url in net.database_urls.values():
                _drop(url)
            shutil.rmtree(directory, ignore_errors=True)
    if "baseline_drf_rps" in result:
        result["ratio"] = round(result["votes_per_s"] / result["baseline_drf_rps"], 3)
        result["ratio_single"] = round(result["single_votes_per_s"] / result["baseline_drf_rps"], 3)
    result["config"] = config
    print(json.dumps(result, indent=2))
    return 0


async def _baseline_alone(args: argparse.Namespace, raws: list[bytes]) -> dict[str, Any]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        return await baseline(args, session, raws)


if __name__ == "__main__":
    sys.exit(main())
