"""Kiosk round trip under load: scan -> confirmed final, through the real kiosk HTTP API, on a 4-node localnet.

    .venv/bin/python bench/kiosk.py [--nodes 4] [--rate 500] [--kiosks 4] [--duration 20] [--warmup 5]

Prints one JSON object on stdout (progress on stderr): ``p50_ms``, ``p95_ms`` (and max, count,
errors) of kiosk round trips, ``background_votes_per_s`` (background votes committed per
second during the measurement, counted in the first node's stored blocks) and the
configuration, with ``os.getloadavg()`` at start and end.

Set-up: ``--nodes`` run_node processes (own SQLite file and key each); the web app (config.asgi
under uvicorn, one process, its own SQLite database) configured with every node URL and the
election authority key, exactly as deployed; an election created, scheduled, given a voter
roll, a registered kiosk and printed cards through the voting services (the real card PDF,
its QR codes read back), then opened.

One round trip is what a booth does for one voter, with the browser's cryptography done in
Python (the same P-256 key from the card, the same canonical transaction): parse the scanned
card text, ``POST /kiosk/api/token-check`` with the token address, sign the transfer,
``POST /kiosk/api/votes`` and wait for the answer, which comes only once the vote is in a
final block. ``--kiosks`` booths run back to back without pause (a real booth waits a minute
per voter, so this is harsher than an election day).

Background load: a separate election's pre-signed votes, ``--rate`` per second, posted in
batches every ``--batch-interval`` seconds to the nodes in turn (open loop: the pace does not
slow down when the network does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Card-printing workers are spawned and re-import this module: they inherit the directory, not make one.
WORK = Path(os.environ.get("BENCH_KIOSK_DIR") or tempfile.mkdtemp(prefix="bench-kiosk-"))
os.environ["BENCH_KIOSK_DIR"] = str(WORK)
WEB_DATABASE_URL = f"sqlite:///{WORK / 'web.sqlite3'}"
# The web app's own database, set before Django reads its settings.
os.environ["DATABASE_URL"] = WEB_DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

import aiohttp  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench import _load  # noqa: E402
from bench._netutil import BenchNet, child_env, election_txs, free_port_block, log, sign_votes, wait_ready  # noqa: E402
from ledger.client import NodeClient  # noqa: E402
from ledger.core.tx import make_tx  # noqa: E402
from ledger.node.config import read_private_key  # noqa: E402
from voting.cards import parse_card_payload  # noqa: E402

BACKGROUND_ELECTION = "background"
CSRF_RE = re.compile(r'data-csrf="([^"]+)"')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--rate", type=float, default=500.0, help="background votes per second (0: none)")
    p.add_argument("--batch-interval", type=float, default=0.1, help="seconds between background batches")
    p.add_argument("--kiosks", type=int, default=4, help="booths voting back to back, concurrently")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of background load before measuring")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of measured kiosk round trips")
    p.add_argument("--cards", type=int, default=300, help="token cards printed for the kiosk station")
    p.add_argument("--keep", action="store_true", help=f"keep the working directory ({WORK})")
    return p.parse_args(argv)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# --- the election the kiosk serves, set up through the voting services --------------------------


def setup_kiosk_election(net: BenchNet, cards: int) -> dict[str, Any]:
    """Official, station, election, roll, kiosk, printed cards, open: returns what the booths need."""
    from django.contrib.auth.models import Group, User

    from tests.voting.factories import roll_rows, to_csv  # plain builders, no test framework
    from tests.voting.pdf_text import extract_qr_payloads
    from voting.access import OFFICIALS_GROUP
    from voting.ledger_gateway import LedgerGateway, NodeClientTransport, set_gateway
    from voting.models import PollingStation, Region
    from voting.services.elections import CandidateDraft, ElectionDraft, create_election, open_election, schedule_election
    from voting.services.roll import import_roll
    from voting.services.stations import register_kiosk
    from voting.services.tokens import issue_tokens

    urls = [net.url(n) for n in net.ids]
    authority = read_private_key(net.localnet.authority_key_path)
    set_gateway(LedgerGateway(NodeClientTransport(NodeClient(urls, timeout_s=10)), authority, timeout_s=60))
    now = datetime.now(timezone.utc)
    official = User.objects.create_user("bench-official", password="bench pass phrase long enough")
    official.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
    region = Region.objects.get(code="suwon")
    station = PollingStation.objects.create(code="suwon-1", name="수원 제1투표소", region=region)
    draft = ElectionDraft(title="Kiosk benchmark", opens_at=now - timedelta(minutes=1),
                          closes_at=now + timedelta(hours=6), region=region,
                          candidates=(CandidateDraft("Kim Minjun", "A"), CandidateDraft("Lee Seoyeon", "B"),
                                      CandidateDraft("Park Jiho", "C")))
    election = create_election(official, draft, now)
    schedule_election(official, election, now)
    import_roll(official, election, file_name="roll.csv", data=to_csv(roll_rows(cards, ["suwon-1"])), now=now)
    registration = register_kiosk(official, election, station, label="booth-1", now=now)
    log(f"printing {cards} cards")
    pdf = issue_tokens(official, election, station, now=now).pdf
    payloads = extract_qr_payloads(pdf)
    if len(payloads) != cards:
        raise RuntimeError(f"read {len(payloads)} QR codes back from {cards} cards")
    open_election(official, election, now)
    set_gateway(None)
    return {"election": election.ledger_id, "credential": registration.credential, "cards": payloads,
            "candidates": [c.ledger_address for c in election.candidates.all()], "chain": net.localnet.chain}


def setup_background(net: BenchNet, count: int) -> Any:
    """A second election with ``count`` pre-signed votes for the background load (none: no load)."""
    if count <= 0:
        return sign_votes(net.localnet.chain, BACKGROUND_ELECTION, 0, "kiosk-bench")
    log(f"signing {count} background votes")
    votes = sign_votes(net.localnet.chain, BACKGROUND_ELECTION, count, "kiosk-bench")
    authority = read_private_key(net.localnet.authority_key_path)
    txs = election_txs(authority, net.localnet.chain, BACKGROUND_ELECTION, [k.address for k in votes.keys])
    statuses = NodeClient([net.url(net.ids[0])], timeout_s=60).commit_many(txs, timeout_s=600)
    if {s.status for s in statuses} != {"committed"}:
        raise RuntimeError("background election set-up failed")
    return votes


def start_web(net: BenchNet, port: int) -> subprocess.Popen[bytes]:
    """config.asgi under uvicorn, configured like a deployment: every node URL, the authority key."""
    env = child_env(WEB_DATABASE_URL)
    env.update(LEDGER_NODE_URLS=",".join(net.url(n) for n in net.ids),
               LEDGER_AUTHORITY_KEY_FILE=str(net.localnet.authority_key_path), ALLOWED_HOSTS="127.0.0.1",
               LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(WORK / "web.log").open("wb"))


# --- the booths -----------------------------------------------------------------------------------


class Booth:
    """One paired kiosk talking to the web app over HTTP, signing like the browser does."""

    def __init__(self, session: aiohttp.ClientSession, base: str, credential: str, chain: str) -> None:
        self.session, self.base, self.credential, self.chain = session, base, credential, chain
        self.csrf_cookie = ""
        self.csrf_token = ""

    async def pair(self) -> None:
        async with self.session.get(self.base + "/kiosk/", headers={"Cookie": f"evote_kiosk={self.credential}"}) as page:
            html = await page.text()
            self.csrf_cookie = page.cookies["csrftoken"].value
        match = CSRF_RE.search(html)
        if page.status != 200 or match is None:
            raise RuntimeError(f"the kiosk page did not open ({page.status})")
        self.csrf_token = match.group(1)

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"evote_kiosk={self.credential}; csrftoken={self.csrf_cookie}", "X-CSRFToken": self.csrf_token,
                "Content-Type": "application/json", "Accept": "application/json"}

    async def vote(self, card: str, election: str, to: str, phases: dict[str, list[float]]) -> dict[str, Any]:
        """Scan -> check -> sign -> submit -> final receipt (the check and submit times go to ``phases``)."""
        started = time.perf_counter()
        _payload, key = parse_card_payload(card)
        check = {"election": election, "address": key.address, "chain": self.chain}
        async with self.session.post(self.base + "/kiosk/api/token-check", data=json.dumps(check),
                                     headers=self.headers()) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"token check: {response.status} {answer}")
        checked = time.perf_counter()
        raw = make_tx(key, chain=self.chain, contract="vote", type="transfer",
                      payload={"election": election, "to": to}).to_bytes()
        submitted = time.perf_counter()
        async with self.session.post(self.base + "/kiosk/api/votes", data=raw, headers=self.headers()) as response:
            receipt: dict[str, Any] = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"vote: {response.status} {receipt}")
        phases["check"].append((checked - started) * 1000)
        phases["submit"].append((time.perf_counter() - submitted) * 1000)
        return receipt


async def run_booths(booths: list[Booth], setup: dict[str, Any], cards: list[str], until: float,
                     latencies: list[float], errors: list[str], phases: dict[str, list[float]]) -> None:
    async def one(booth: Booth, index: int) -> None:
        while time.monotonic() < until and cards:
            card = cards.pop()
            started = time.perf_counter()
            try:
                await booth.vote(card, setup["election"], setup["candidates"][index % len(setup["candidates"])], phases)
            except (RuntimeError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors.append(str(exc)[:200])
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*[one(booth, i) for i, booth in enumerate(booths)])


async def background(session: aiohttp.ClientSession, urls: list[str], pool: _load.VotePool, rate: float,
                     interval: float, stop: asyncio.Event, sent: dict[str, int]) -> None:
    """Open loop: ``rate * interval`` votes every ``interval`` seconds, the nodes in turn."""
    per_batch = max(1, round(rate * interval))
    started = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()

    async def post(url: str, chunk: list[tuple[bytes, str]]) -> None:
        body = b'{"txs":[' + b",".join(raw for raw, _ in chunk) + b"]}"
        try:
            async with session.post(url + "/v1/txs", data=body, headers=_load.JSON_HEADERS) as response:
                answer = await response.json(content_type=None)
            sent["accepted"] += int(answer.get("accepted", 0)) if response.status == 200 else 0
            sent["refused"] += 0 if response.status == 200 else len(chunk)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
            sent["refused"] += len(chunk)

    index = 0
    while not stop.is_set():
        chunk = pool.take(per_batch)
        if not chunk:
            sent["exhausted"] = 1
            break
        task = asyncio.create_task(post(urls[index % len(urls)], chunk))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        index += 1
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*tasks)


async def measure(args: argparse.Namespace, net: BenchNet, setup: dict[str, Any], votes: Any, base: str) -> dict[str, Any]:
    urls = [net.url(n) for n in net.ids]
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        booths = [Booth(session, base, setup["credential"], setup["chain"]) for _ in range(args.kiosks)]
        for booth in booths:
            await booth.pair()
        cards = list(setup["cards"])
        warm: list[float] = []
        await run_booths(booths, setup, cards, time.monotonic() + 2, warm, [], {"check": [], "submit": []})  # warm-up
        async with session.get(urls[0] + "/v1/status") as response:
            start_height = int((await response.json())["persisted_height"])
        stop = asyncio.Event()
        sent = {"accepted": 0, "refused": 0, "exhausted": 0}
        pool = _load.VotePool(votes.raws, votes.ids)
        load = asyncio.create_task(background(session, urls, pool, args.rate, args.batch_interval, stop, sent)
                                   if args.rate > 0 else stop.wait())
        await asyncio.sleep(args.warmup)
        latencies: list[float] = []
        errors: list[str] = []
        window_start = time.time()
        phases: dict[str, list[float]] = {"check": [], "submit": []}
        await run_booths(booths, setup, cards, time.monotonic() + args.duration, latencies, errors, phases)
        window = (window_start, time.time())
        stop.set()
        await load
        committed = await _load.committed_in(session, urls[0], start_height + 1, window)
        kiosk_per_s = len(latencies) / (window[1] - window[0])
    if not latencies:
        raise RuntimeError(f"no kiosk round trip succeeded: {errors[:3]}")
    return {
        "p50_ms": round(_load.percentile(latencies, 0.50), 1),
        "p95_ms": round(_load.percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1),
        "round_trips": len(latencies),
        "token_check_p50_ms": round(_load.percentile(phases["check"], 0.50), 1),
        "submit_to_final_p50_ms": round(_load.percentile(phases["submit"], 0.50), 1),
        "submit_to_final_p95_ms": round(_load.percentile(phases["submit"], 0.95), 1),
        "round_trip_errors": len(errors),
        "errors_sample": errors[:3],
        "background_votes_per_s": round(committed - kiosk_per_s, 1),
        "background_offered_per_s": args.rate,
        "background_accepted": sent["accepted"],
        "background_refused": sent["refused"],
        "background_pool_exhausted": bool(sent["exhausted"]),
        "warmup_round_trips": len(warm),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config: dict[str, Any] = {
        "nodes": args.nodes, "kiosks": args.kiosks, "background_rate": args.rate,
        "background_batch_interval_s": args.batch_interval, "warmup_s": args.warmup, "duration_s": args.duration,
        "cards": args.cards, "db": "sqlite (one file per node, one for the web app)",
        "web": "config.asgi under uvicorn, 1 process", "signing": "Python (ledger.core, same bytes as evote.js)",
        "cpu_count": os.cpu_count(), "load_avg_at_start": load_average(), "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "dir": str(WORK),
    }
    call_command("migrate", "--noinput", verbosity=0)
    net = BenchNet.create(WORK / "net", args.nodes, "", {})
    web: subprocess.Popen[bytes] | None = None
    try:
        for node_id in net.ids:
            net.start(node_id)
        asyncio.run(_wait_nodes(net))
        setup = setup_kiosk_election(net, args.cards)
        votes = setup_background(net, int(args.rate * (args.warmup + args.duration + 10)))
        port = free_port_block(1)
        web = start_web(net, port)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_web(base, web))
        log(f"measuring: {args.kiosks} booths for {args.duration}s with {args.rate} background votes/s")
        result = asyncio.run(measure(args, net, setup, votes, base))
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=30)
        net.stop_all()
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    config["load_avg_at_end"] = load_average()
    print(json.dumps({**result, "config": config}, indent=2))
    return 0


async def _wait_nodes(net: BenchNet) -> None:
    async with aiohttp.ClientSession() as session:
        for node_id in net.ids:
            await wait_ready(session, net.url(node_id), alive=lambda node_id=node_id: net.alive(node_id))


async def _wait_web(base: str, web: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if web.poll() is not None:
                raise RuntimeError("the web app exited: " + (WORK / "web.log").read_text()[-2000:])
            try:
                async with session.get(base + "/track/") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("the web app did not start")


if __name__ == "__main__":
    sys.exit(main())
