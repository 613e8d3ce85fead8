"""Community poll statistics (issue #8): roll-ups after each block, and push latency to 1,000 websockets.

    .venv/bin/python bench/community.py [--members 100000] [--clients 1000] [--block-casts 1000]
                                        [--push-blocks 20] [--push-block-casts 100] [--refresh 0.5]
                                        [--layer auto|redis|memory] [--methods single,ranked,score]

A poll over a 4-level tree (1 / 10 / 100 / 1,000 units, members spread evenly over the
1,000 leaves) on a generated chain: one ``create``, ``register`` transactions of 1,000
voters, ``open``, then blocks of --block-casts ``cast`` transactions with random ballots.
Transactions are the ``poll`` contract's own payloads; signatures are left out because the
statistics engine trusts committed blocks (it only derives each caster's address from the
signer key, which it does here too).

1. ``rollup_ms``: in this process, per method, every cast block is applied to
   ``communities.stats.StatsEngine`` and then EVERY stale unit's result is recomputed with
   ``ledger.core.polls.tally`` (all roll-ups current after each block); p50 / p99 / max over
   the blocks, plus the time to recompute all 1,111 units from nothing at full turnout.
2. ``push_p99_ms``: the real web app (config.asgi under uvicorn, one process, Redis channel
   layer when Redis answers on 127.0.0.1:6379, else in-memory) follows a stand-in node
   that serves the generated chain over ``GET /v1/blocks`` and releases one more block of
   --push-block-casts casts every --interval seconds. --clients websocket clients (aiohttp, in this process, signed in
   as a member of the poll's scope) are connected; the figure is the time from a block's
   release on the node to its update's arrival at each client, over all clients and blocks.
   It includes the follower's polling interval (--refresh, the production default 0.5 s).

Prints one JSON object on stdout; progress on stderr. The machine may be shared: the load
average before and after is in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.core.crypto import address_of  # noqa: E402

POLL = "bench-poll"
OPTIONS = ["o1", "o2", "o3", "o4", "o5"]
START_MS = 1_767_225_600_000
HEIGHT_RE = re.compile(r'"height":(\d+)')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the generated chain -------------------------------------------------------------------------


def build_units() -> tuple[list[dict[str, Any]], list[str]]:
    """1 province, 10 cities, 100 districts, 1,000 neighbourhoods; returns (units, leaf ids)."""
    units = [{"id": "r", "parent": None, "name": "province"}]
    leaves = []
    for c in range(10):
        units.append({"id": f"c{c}", "parent": "r", "name": f"city {c}"})
        for d in range(10):
            units.append({"id": f"c{c}d{d}", "parent": f"c{c}", "name": f"district {c}-{d}"})
            for n in range(10):
                leaf = f"c{c}d{d}n{n}"
                units.append({"id": leaf, "parent": f"c{c}d{d}", "name": f"neighbourhood {c}-{d}-{n}"})
                leaves.append(leaf)
    return units, leaves


def signer(index: int) -> str:
    return "04" + hashlib.sha256(b"member-%d" % index).hexdigest() * 2


def tx(tx_type: str, payload: dict[str, Any], signer_hex: str = "04" + "aa" * 64) -> dict[str, Any]:
    return {"v": 1, "chain": "bench", "contract": "poll", "type": tx_type, "payload": payload, "signer": signer_hex,
            "nonce": 0, "sig": ""}


def random_ballot(method: str, rng: random.Random) -> Any:
    if method == "single":
        return rng.choice(OPTIONS)
    if method == "ranked":
        order = rng.sample(OPTIONS, len(OPTIONS))
        return order[:rng.randint(1, len(OPTIONS))]
    if method == "score":
        return {option: rng.randint(0, 10) for option in OPTIONS}
    raise ValueError(method)


def build_chain(method: str, members: int, block_casts: int, seed: int = 8) -> tuple[list[dict[str, Any]], int]:
    """Block entries (as a node serves them) and the index of the first cast block."""
    rng = random.Random(seed)
    units, leaves = build_units()
    create = {"poll": POLL, "title": "Bench poll", "method": method, "units": units, "weights": "equal",
              "options": [{"id": o, "name": o.upper()} for o in OPTIONS], "opens_at": START_MS,
              "closes_at": START_MS + 86_400_000 * 30}
    if method == "score":
        create["score_max"] = 10
    payloads = [[tx("create", create)]]
    voters = [{"address": address_of(bytes.fromhex(signer(i))), "unit": leaves[i % len(leaves)], "weight": 1}
              for i in range(members)]
    payloads += [[tx("register", {"poll": POLL, "voters": voters[s:s + 1000]})] for s in range(0, members, 1000)]
    payloads.append([tx("open", {"poll": POLL})])
    first_cast = len(payloads)
    order = list(range(members))
    rng.shuffle(order)
    for start in range(0, members, block_casts):
        payloads.append([tx("cast", {"poll": POLL, "ballot": random_ballot(method, rng)}, signer(i))
                         for i in order[start:start + block_casts]])
    entries, prev = [], "00" * 32
    for height, txs in enumerate(payloads, start=1):
        block_hash = hashlib.sha256(b"block-%d" % height).hexdigest()
        header = {"height": height, "time": START_MS + height * 1000, "prev": prev}
        entries.append({"height": height, "hash": block_hash, "block": {"header": header, "txs": txs},
                        "cert": {}, "committed_at": 0})
        prev = block_hash
    return entries, first_cast


# --- 1. roll-ups in process ----------------------------------------------------------------------


def measure_rollups(method: str, members: int, block_casts: int) -> dict[str, Any]:
    from communities.stats import StatsEngine

    entries, first_cast = build_chain(method, members, block_casts)
    engine = StatsEngine()
    for entry in entries[:first_cast]:
        engine.apply_block(entry)
    engine.polls[POLL].refresh()
    timings = []
    for entry in entries[first_cast:]:
        started = time.perf_counter()
        engine.apply_block(entry)
        engine.polls[POLL].refresh()
        timings.append((time.perf_counter() - started) * 1000)
    stats = engine.polls[POLL]
    started = time.perf_counter()
    stats._stale = set(stats.parent)
    stats._results.clear()
    stats.refresh()
    full_ms = (time.perf_counter() - started) * 1000
    distinct = len(stats.figures[stats.root].rankings) if method == "ranked" else None
    return {"method": method, "blocks": len(timings), "p50": round(percentile(timings, 0.5), 1),
            "p99": round(percentile(timings, 0.99), 1), "max": round(max(timings), 1),
            "full_recompute_all_units_ms": round(full_ms, 1), "ballots": stats.figures[stats.root].ballots,
            "distinct_rankings_at_root": distinct}


# --- 2. push latency through the real web app ----------------------------------------------------


def redis_url() -> str:
    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        return "redis://127.0.0.1:6379/15"
    except Exception:  # any failure: fall back to the in-memory layer and say so
        return ""


def prepare_site(work: Path, node_url: str, refresh: float, redis: str) -> tuple[dict[str, str], str]:
    """A fresh SQLite database with the poll, a member in its scope and a signed-in session; returns (env, cookie)."""
    env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": f"sqlite:///{work / 'web.sqlite3'}",
           "LEDGER_NODE_URLS": node_url, "DJANGO_SETTINGS_MODULE": "config.settings",
           "COMMUNITY_STATS_REFRESH_SECONDS": str(refresh), "REDIS_URL": redis, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, check=True,
                   cwd=ROOT)
    script = (
        "import django, sys; django.setup()\n"
        "from importlib import import_module\n"
        "from django.conf import settings\n"
        "from django.utils import timezone\n"
        "from communities.models import Community, Member, Membership, Poll\n"
        "from communities.services.members import SESSION_KEY\n"
        "root = Community.objects.create(slug='bench', name='Bench', path='/', depth=0)\n"
        "root.path = f'/{root.pk}/'; root.save()\n"
        "now = timezone.now()\n"
        f"Poll.objects.create(community=root, ledger_id={POLL!r}, title='Bench poll', method='single', opens_at=now,"
        " closes_at=now, live_results=True, status='open', status_changed_at=now, created_at=now)\n"
        "member = Member.objects.create(display_name='bench')\n"
        "Membership.objects.create(member=member, community=root, joined_via='invite')\n"
        "store = import_module(settings.SESSION_ENGINE).SessionStore()\n"
        "store[SESSION_KEY] = member.pk; store.save()\n"
        "print(settings.SESSION_COOKIE_NAME + '=' + store.session_key)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    return env, out.stdout.strip().splitlines()[-1]


class StandInNode:
    """Serves ``GET /v1/blocks`` from the generated chain, up to the released height."""

    def __init__(self, entries: list[dict[str, Any]], released: int) -> None:
        self.raw = [json.dumps(entry, separators=(",", ":")).encode() for entry in entries]
        self.released = released
        self.release_time: dict[int, float] = {}

    def release_next(self) -> int:
        self.released += 1
        self.release_time[self.released] = time.time()
        return self.released

    async def start(self) -> str:
        from aiohttp import web

        async def blocks(request: web.Request) -> web.Response:
            start = int(request.query.get("from", "1"))
            limit = int(request.query.get("limit", "100"))
            chosen = self.raw[start - 1:min(self.released, start - 1 + limit)]
            body = b'{"blocks":[' + b",".join(chosen) + b'],"height":' + str(self.released).encode() + b"}"
            return web.Response(body=body, content_type="application/json")

        app = web.Application()
        app.router.add_get("/v1/blocks", blocks)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"


async def measure_push(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    entries, first_cast = build_chain("single", args.members, args.push_block_casts)
    node = StandInNode(entries, first_cast)
    node_url = await node.start()
    redis = redis_url() if args.layer in ("auto", "redis") else ""
    if args.layer == "redis" and not redis:
        raise SystemExit("--layer redis: no Redis answers on 127.0.0.1:6379")
    work = Path(tempfile.mkdtemp(prefix="bench-community-"))
    env, cookie = await asyncio.to_thread(prepare_site, work, node_url, args.refresh, redis)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                               "--port", str(port), "--log-level", "warning", "--ws", "websockets-sansio"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / "uvicorn.log", "wb"))
    received: dict[int, list[float]] = {}
    sizes: list[int] = []
    try:
        await wait_for_port(port)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers={"Cookie": cookie})
        url = f"ws://127.0.0.1:{port}/ws/communities/polls/{POLL}/stats/"
        origin = f"http://127.0.0.1:{port}"
        log(f"connecting {args.clients} websocket clients (channel layer: {'redis' if redis else 'in-memory'})")
        sockets, refused = [], []
        for start in range(0, args.clients, 50):
            batch = await asyncio.gather(*(session.ws_connect(url, origin=origin, max_msg_size=0, timeout=120)
                                           for _ in range(start, min(args.clients, start + 50))))
            firsts = await asyncio.gather(*(ws.receive(timeout=120) for ws in batch))  # the snapshot
            for ws, first in zip(batch, firsts):
                if first.type == aiohttp.WSMsgType.TEXT and first.data.startswith('{"type":"snapshot"'):
                    sockets.append(ws)
                else:
                    refused.append(f"{first.type.name}:{first.data}")
        if refused:
            log(f"{len(refused)} sockets got no snapshot: {sorted(set(refused))[:5]}")
        log(f"{len(sockets)} connected; releasing {args.push_blocks} blocks of {args.push_block_casts} casts")

        async def listen(ws: Any) -> None:
            async for message in ws:
                at = time.time()
                match = HEIGHT_RE.search(message.data[:600])
                if match:
                    received.setdefault(int(match.group(1)), []).append(at)
                    if len(sizes) < 50:
                        sizes.append(len(message.data))

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        for _ in range(min(args.push_blocks, len(entries) - first_cast)):
            height = node.release_next()
            deadline = time.time() + args.block_wait
            while len(received.get(height, [])) < len(sockets) and time.time() < deadline:
                await asyncio.sleep(0.02)
            got = received.get(height, [])
            log(f"height {height}: {len(got)}/{len(sockets)} clients, last after "
                f"{(max(got, default=node.release_time[height]) - node.release_time[height]) * 1000:.0f} ms")
            await asyncio.sleep(max(0.0, args.interval - (time.time() - node.release_time[height])))
        for ws in sockets:
            await ws.close()
        for task in listeners:
            task.cancel()
        await session.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    latencies = [(at - node.release_time[h]) * 1000 for h, times in received.items() if h in node.release_time
                 for at in times]
    expected = len(sockets) * len(node.release_time)
    return {"ws_clients": len(sockets), "ws_refused_at_connect": len(refused), "channel_layer": "redis" if redis else "in-memory",
            "push_blocks": len(node.release_time), "deliveries": len(latencies), "deliveries_expected": expected,
            "push_p50_ms": round(percentile(latencies, 0.5), 1), "push_p99_ms": round(percentile(latencies, 0.99), 1),
            "push_max_ms": round(max(latencies, default=0.0), 1), "update_bytes_median": int(percentile(sizes, 0.5))}


async def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("uvicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--block-casts", type=int, default=1000)
    parser.add_argument("--push-blocks", type=int, default=20)
    parser.add_argument("--push-block-casts", type=int, default=100,
                        help="casts per block in the push measurement (each touched leaf and its ancestors travel)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between released blocks")
    parser.add_argument("--refresh", type=float, default=0.5, help="the follower's polling interval (s)")
    parser.add_argument("--methods", default="single,ranked,score")
    parser.add_argument("--block-wait", type=float, default=10.0,
                        help="seconds to wait for every client to get a block's update before releasing the next")
    parser.add_argument("--layer", choices=("auto", "redis", "memory"), default="auto",
                        help="channel layer of the web app: Redis if it answers (auto), or as chosen")
    parser.add_argument("--skip-push", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    load_before = os.getloadavg()
    rollups = []
    for method in filter(None, args.methods.split(",")):
        log(f"roll-ups: {method}, {args.members} members, blocks of {args.block_casts} casts")
        rollups.append(measure_rollups(method, args.members, args.block_casts))
    push = {} if args.skip_push else asyncio.run(measure_push(args))
    print(json.dumps({
        "members": args.members, "units": 1111, "tree_levels": [1, 10, 100, 1000],
        "rollup_ms": rollups, **push,
        "config": {"block_casts": args.block_casts, "push_block_casts": args.push_block_casts, "interval_s": args.interval, "refresh_s": args.refresh,
                   "options": len(OPTIONS), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                   "server": "uvicorn, 1 process, config.asgi", "clients": "aiohttp in the benchmark process",
                   "node": "stand-in serving GET /v1/blocks from a generated chain",
                   "load_before": [round(x, 2) for x in load_before],
                   "load_after": [round(x, 2) for x in os.getloadavg()]},
    }, indent=2))


if __name__ == "__main__":
    main()
