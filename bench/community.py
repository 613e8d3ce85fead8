"""Community poll statistics (issue #8): roll-ups after each block, and push latency to 1,000 websockets.

    .venv/bin/python bench/community.py [--members 100000] [--clients 1000] [--block-casts 1000]
                                        [--push-blocks 20] [--push-block-casts 100] [--refresh 0.2]
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
   as a member of the poll's scope) are connected, and each switches to a view the way the
   dashboard does (``{"type": "view", "unit": ...}``): VIEW_MIX of them stay on the root, look
   at a city or at a district. From the chain the benchmark knows which units each block
   changes, hence which clients must get a frame (a view shows the unit and its children; a
   view none of whose units changed gets none): ``expected`` frames, ``delivered`` as
   received, and frames a view should not have got as ``unexpected``. The figure is the time
   from a block's release on the node to its frame's arrival at each client, over every
   delivered frame. It includes the follower's polling interval (--refresh, the production
   default 0.2 s).
3. ``push_phases_ms``: the server-side steps of one pushed block, timed in this process on the
   same chain (fetching the block from the stand-in node, applying it, building the update's
   per-unit fragments, composing the frames of every view, the channel layer's group send to
   --clients channels); what is left of the latency is the sockets' sends and the clients.

Prints one JSON object on stdout; progress on stderr. The machine may be shared: the load
average before and after is in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
VIEW_MIX = {"root": 0.1, "city": 0.4, "district": 0.5}  # share of the clients per dashboard level


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


def measure_rollups(method: str, members: int, block_casts: int, freeze: bool) -> dict[str, Any]:
    from communities.stats import StatsEngine

    entries, first_cast = build_chain(method, members, block_casts)
    engine = StatsEngine()
    for entry in entries[:first_cast]:
        engine.apply_block(entry)
    engine.polls[POLL].refresh()
    if freeze:  # as the web process's follower does after loading the chain (communities.follower._freeze)
        gc.collect()
        gc.freeze()
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
    gc.unfreeze()
    return {"method": method, "blocks": len(timings), "p50": round(percentile(timings, 0.5), 1),
            "p99": round(percentile(timings, 0.99), 1), "max": round(max(timings), 1),
            "full_recompute_all_units_ms": round(full_ms, 1), "ballots": stats.figures[stats.root].ballots,
            "distinct_rankings_at_root": distinct, "gc_frozen_after_load": freeze}


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


def choose_views(clients: int, seed: int = 8) -> list[str]:
    """Each client's view, VIEW_MIX shares of root / city / district, units drawn at random."""
    rng = random.Random(seed)
    cities = round(clients * VIEW_MIX["city"])
    roots = round(clients * VIEW_MIX["root"])
    views = []
    for k in range(clients):
        city = rng.randrange(10)
        if k < roots:
            views.append("r")
        elif k < roots + cities:
            views.append(f"c{city}")
        else:
            views.append(f"c{city}d{rng.randrange(10)}")
    rng.shuffle(views)
    return views


def view_units(view: str) -> set[str]:
    """What a dashboard on ``view`` shows and gets updates for: the unit and its direct children."""
    if view == "r":
        return {"r", *(f"c{c}" for c in range(10))}
    return {view, *(f"{view}{'n' if 'd' in view else 'd'}{i}" for i in range(10))}


def changed_units(entry: dict[str, Any], leaf_of: dict[str, str]) -> set[str]:
    """The units a cast block changes: each caster's leaf and every unit above it."""
    changed = set()
    for tx_entry in entry["block"]["txs"]:
        leaf = leaf_of[tx_entry["signer"]]
        changed.update({leaf, leaf[:leaf.index("n")], leaf[:leaf.index("d")], "r"})
    return changed


async def measure_push(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    entries, first_cast = build_chain("single", args.members, args.push_block_casts)
    _, leaves = build_units()
    leaf_of = {signer(i): leaves[i % len(leaves)] for i in range(args.members)}
    # The generated chain is ~1M objects in this process; a full collection of them would pause
    # the 1,000 clients and be counted as push latency, which is about the server, not the bench.
    gc.collect()
    gc.freeze()
    node = StandInNode(entries, first_cast)
    node_url = await node.start()
    redis = redis_url() if args.layer in ("auto", "redis") else ""
    if args.layer == "redis" and not redis:
        raise SystemExit("--layer redis: no Redis answers on 127.0.0.1:6379")
    work = Path(tempfile.mkdtemp(prefix="bench-community-"))
    env, cookie = await asyncio.to_thread(prepare_site, work, node_url, args.refresh, redis)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--ws", "websockets-sansio"]
    if args.deflate:
        command += ["--ws-per-message-deflate", "true"]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=open(work / "uvicorn.log", "wb"))
    wanted = choose_views(args.clients)
    received: dict[int, list[float]] = {}  # height -> arrival times of the frames the views should get
    unexpected: dict[int, int] = {}
    sizes: list[int] = []
    views: list[str] = []
    try:
        await wait_for_port(port)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers={"Cookie": cookie})
        url = f"ws://127.0.0.1:{port}/ws/communities/polls/{POLL}/stats/"
        origin = f"http://127.0.0.1:{port}"
        log(f"connecting {args.clients} websocket clients (channel layer: {'redis' if redis else 'in-memory'})")
        sockets, refused = [], []
        for start in range(0, args.clients, 50):
            chosen = wanted[start:start + 50]
            batch = await asyncio.gather(*(session.ws_connect(url, origin=origin, max_msg_size=0, timeout=120,
                                                              compress=15 if args.deflate else 0)
                                           for _ in chosen))
            firsts = await asyncio.gather(*(ws.receive(timeout=120) for ws in batch))  # the snapshot
            for ws, first in zip(batch, firsts):
                if not (first.type == aiohttp.WSMsgType.TEXT and first.data.startswith('{"type":"snapshot"')):
                    refused.append(f"{first.type.name}:{first.data}")
            await asyncio.gather(*(ws.send_str(json.dumps({"type": "view", "unit": view}))
                                   for ws, view in zip(batch, chosen)))
            answers = await asyncio.gather(*(ws.receive(timeout=120) for ws in batch))  # the view frame
            for ws, view, answer in zip(batch, chosen, answers):
                if answer.type == aiohttp.WSMsgType.TEXT and answer.data.startswith('{"type":"view"'):
                    sockets.append(ws)
                    views.append(view)
                else:
                    refused.append(f"{answer.type.name}:{answer.data[:80]}")
        if refused:
            log(f"{len(refused)} sockets got no snapshot or view: {sorted(set(refused))[:5]}")
        log(f"{len(sockets)} connected; releasing {args.push_blocks} blocks of {args.push_block_casts} casts")
        shown = [view_units(view) for view in views]
        expected_at: dict[int, int] = {}
        changed_at = {h: changed_units(entries[h - 1], leaf_of) for h in range(first_cast + 1, len(entries) + 1)}

        async def listen(ws: Any, units: set[str]) -> None:
            async for message in ws:
                at = time.time()
                match = HEIGHT_RE.search(message.data[:200])
                if not match or not message.data.startswith('{"type":"update"'):
                    continue
                height = int(match.group(1))
                if height in changed_at and not units & changed_at[height]:
                    unexpected[height] = unexpected.get(height, 0) + 1
                    continue
                received.setdefault(height, []).append(at)
                if len(sizes) < 200:
                    sizes.append(len(message.data))

        listeners = [asyncio.create_task(listen(ws, units)) for ws, units in zip(sockets, shown)]
        for _ in range(min(args.push_blocks, len(entries) - first_cast)):
            changed = changed_at[node.released + 1]  # the block about to be released
            expected = expected_at[node.released + 1] = sum(1 for units in shown if units & changed)
            height = node.release_next()
            deadline = time.time() + args.block_wait
            while len(received.get(height, [])) < expected and time.time() < deadline:
                await asyncio.sleep(0.02)
            got = received.get(height, [])
            log(f"height {height}: {len(got)}/{expected} frames, last after "
                f"{(max(got, default=node.release_time[height]) - node.release_time[height]) * 1000:.0f} ms")
            await asyncio.sleep(max(0.0, args.interval - (time.time() - node.release_time[height])))
        await asyncio.sleep(0.5)  # frames a view should not get may still be on their way
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
    phases = await measure_phases(node_url, entries, sorted(node.release_time), args.clients, redis)
    return {"ws_clients": len(sockets), "ws_refused_at_connect": len(refused),
            "channel_layer": "redis" if redis else "in-memory", "push_blocks": len(node.release_time),
            "delivered": len(latencies), "expected": sum(expected_at.values()),
            "unexpected": sum(unexpected.values()),
            "push_p50_ms": round(percentile(latencies, 0.5), 1), "push_p99_ms": round(percentile(latencies, 0.99), 1),
            "push_max_ms": round(max(latencies, default=0.0), 1), "frame_bytes_median": int(percentile(sizes, 0.5)),
            "push_phases_ms": phases}


async def measure_phases(node_url: str, entries: list[dict[str, Any]], heights: list[int],
                         clients: int, redis: str) -> dict[str, Any]:
    """The server's steps for each pushed block, one after the other in this process (medians, ms).

    Fetches go through ``ledger.client.NodeClient`` in a thread, as the follower's do; ``poll_empty``
    is one poll when nothing is new (what every REFRESH_SECONDS costs while dashboards are open).
    ``redis_group_send`` / ``redis_receive_all`` time a notice to a group of --clients channels and
    their receipt in one process: the channel-layer step the push used before it woke its
    sockets in process (kept for comparison; not on the push path any more).
    """
    from communities.stats import StatsEngine
    from communities.stats_export import build_update_parts, compose_update, get_view_units
    from ledger.client import NodeClient

    engine = StatsEngine()
    for entry in entries[:heights[0] - 1]:
        engine.apply_block(entry)
    stats = engine.polls[POLL]
    stats.refresh()
    stats.changed_units = set()
    all_views = [stats.root, *(uid for uid in stats.order if stats.depth[uid] in (1, 2))]
    layer = None
    if redis:
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[{"address": redis, "socket_timeout": None}])
        prefix = await layer.new_channel()
        channels = [prefix + str(k) for k in range(clients)]
        for channel in channels:
            await layer.group_add("bench-phases", channel)
    timings: dict[str, list[float]] = {"poll_empty": [], "fetch": [], "apply": [], "results_and_fragments": [],
                                       "compose_all_views": [], "redis_group_send": [], "redis_receive_all": []}
    client = NodeClient([node_url])
    for _ in range(20):
        started = time.perf_counter()
        await asyncio.to_thread(client.blocks, heights[-1] + 1, 100)
        timings["poll_empty"].append(time.perf_counter() - started)
    for number, height in enumerate(heights, start=1):  # one block at a time, as the follower meets them
        started = time.perf_counter()
        page = await asyncio.to_thread(client.blocks, height, 1)
        fetched = time.perf_counter()
        engine.apply_block(page["blocks"][0])
        applied = time.perf_counter()
        parts = build_update_parts(stats, stats.changed_units, True, number)
        stats.changed_units = set()
        built = time.perf_counter()
        for view in all_views:
            compose_update(parts, view, get_view_units(stats, view))
        composed = time.perf_counter()
        timings["fetch"].append(fetched - started)
        timings["apply"].append(applied - fetched)
        timings["results_and_fragments"].append(built - applied)
        timings["compose_all_views"].append(composed - built)
        if layer is not None:
            await layer.group_send("bench-phases", {"type": "stats.update", "poll": POLL})
            sent = time.perf_counter()
            for channel in channels:
                await layer.receive(channel)
            timings["redis_group_send"].append(sent - composed)
            timings["redis_receive_all"].append(time.perf_counter() - sent)
    if layer is not None:
        await layer.flush()
    result: dict[str, Any] = {name: round(percentile(values, 0.5) * 1000, 2) for name, values in timings.items() if values}
    result["views"] = len(all_views)
    result["group_size"] = clients if layer is not None else 0
    return result


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
    parser.add_argument("--refresh", type=float, default=0.2, help="the follower's polling interval (s; production default 0.2)")
    parser.add_argument("--methods", default="single,ranked,score")
    parser.add_argument("--block-wait", type=float, default=10.0,
                        help="seconds to wait for every client to get a block's update before releasing the next")
    parser.add_argument("--layer", choices=("auto", "redis", "memory"), default="auto",
                        help="channel layer of the web app: Redis if it answers (auto), or as chosen")
    parser.add_argument("--skip-push", action="store_true")
    parser.add_argument("--no-freeze", action="store_true",
                        help="roll-ups without gc.freeze() after loading (the follower freezes; this shows the difference)")
    parser.add_argument("--deflate", action="store_true",
                        help="uvicorn --ws-per-message-deflate on, and the clients ask for it")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    load_before = os.getloadavg()
    rollups = []
    for method in filter(None, args.methods.split(",")):
        log(f"roll-ups: {method}, {args.members} members, blocks of {args.block_casts} casts")
        rollups.append(measure_rollups(method, args.members, args.block_casts, not args.no_freeze))
    push = {} if args.skip_push else asyncio.run(measure_push(args))
    print(json.dumps({
        "members": args.members, "units": 1111, "tree_levels": [1, 10, 100, 1000],
        "rollup_ms": rollups, **push,
        "config": {"block_casts": args.block_casts, "push_block_casts": args.push_block_casts, "interval_s": args.interval, "refresh_s": args.refresh,
                   "options": len(OPTIONS), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                   "server": "uvicorn, 1 process, config.asgi" + (", per-message deflate" if args.deflate else ""),
                   "clients": "aiohttp in the benchmark process", "views": VIEW_MIX,
                   "node": "stand-in serving GET /v1/blocks from a generated chain",
                   "load_before": [round(x, 2) for x in load_before],
                   "load_after": [round(x, 2) for x in os.getloadavg()]},
    }, indent=2))


if __name__ == "__main__":
    main()
