"""The load generator of bench/network.py: aiohttp, one event loop, pre-signed votes."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from ledger.core.tx import Transaction

JSON_HEADERS = {"Content-Type": "application/json"}


class VotePool:
    """Pre-signed votes, each handed out once."""

    def __init__(self, raws: list[bytes], ids: list[str]) -> None:
        self._items = deque(zip(raws, ids))

    def __len__(self) -> int:
        return len(self._items)

    def take(self, count: int) -> list[tuple[bytes, str]]:
        return [self._items.popleft() for _ in range(min(count, len(self._items)))]

    def next_raw(self) -> bytes | None:
        return self._items.popleft()[0] if self._items else None


@dataclass(frozen=True)
class Throughput:
    committed_per_s: float  # from the /metrics counter (refined from the stored blocks by the caller)
    admitted_per_s: float
    exhausted: bool
    window: tuple[float, float]  # wall clock


async def batched(session: aiohttp.ClientSession, urls: list[str], pool: VotePool, *, batch: int, concurrency: int,
                  backlog: int, warmup_s: float, duration_s: float,
                  committed: Callable[[], Awaitable[float]]) -> Throughput:
    """Closed loop: batches from ``concurrency`` workers, at most ``backlog`` votes uncommitted."""
    base = await committed()
    state = {"admitted": 0.0, "committed": base, "stop": False, "exhausted": False}

    async def poll() -> None:
        while not state["stop"]:
            state["committed"] = await committed()
            await asyncio.sleep(0.05)

    async def worker(index: int) -> None:
        url = urls[index % len(urls)] + "/v1/txs"
        while not state["stop"]:
            if state["admitted"] - (state["committed"] - base) > backlog:
                await asyncio.sleep(0.005)
                continue
            chunk = pool.take(batch)
            if not chunk:
                state["exhausted"] = True
                return
            body = b'{"txs":[' + b",".join(raw for raw, _ in chunk) + b"]}"
            async with session.post(url, data=body, headers=JSON_HEADERS) as response:
                answer = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"batch refused: {response.status} {str(answer)[:300]}")
            state["admitted"] += answer["accepted"]
            if answer["rejected"]:
                bad = [r for r in answer["results"] if r["status"] == "rejected"][:3]
                raise RuntimeError(f"{answer['rejected']} votes rejected: {bad}")

    tasks = [asyncio.create_task(poll())] + [asyncio.create_task(worker(i)) for i in range(concurrency)]
    try:
        await asyncio.sleep(warmup_s)
        c0, a0, t0, w0 = await committed(), state["admitted"], time.monotonic(), time.time()
        while time.monotonic() - t0 < duration_s and not state["exhausted"]:
            await asyncio.sleep(0.05)
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        c1, a1, t1, w1 = await committed(), state["admitted"], time.monotonic(), time.time()
    finally:
        state["stop"] = True
        await asyncio.gather(*tasks, return_exceptions=True)
    return Throughput((c1 - c0) / (t1 - t0), (a1 - a0) / (t1 - t0), bool(state["exhausted"]), (w0, w1))


@dataclass(frozen=True)
class Rate:
    per_s: float
    ok: int
    errors: int
    window: tuple[float, float]  # wall clock


async def singles(session: aiohttp.ClientSession, urls: list[str], source: Callable[[], bytes | None], *,
                  concurrency: int, duration_s: float, accepted_status: tuple[int, ...] = (200, 202)) -> Rate:
    """One vote per request, ``concurrency`` in flight, to the URLs in turn; successful answers/s."""
    counts = {"ok": 0, "errors": 0}
    deadline = time.monotonic() + duration_s

    async def worker(index: int) -> None:
        url = urls[index % len(urls)] + "/v1/txs"
        while time.monotonic() < deadline:
            raw = source()
            if raw is None:
                return
            try:
                async with session.post(url, data=raw, headers=JSON_HEADERS) as response:
                    await response.read()
                    counts["ok" if response.status in accepted_status else "errors"] += 1
            except (aiohttp.ClientError, OSError):
                counts["errors"] += 1

    started, wall = time.monotonic(), time.time()
    await asyncio.gather(*[worker(i) for i in range(concurrency)])
    return Rate(counts["ok"] / (time.monotonic() - started), counts["ok"], counts["errors"], (wall, time.time()))


def cycle(raws: list[bytes]) -> Callable[[], bytes]:
    position = [0]

    def next_raw() -> bytes:
        position[0] = (position[0] + 1) % len(raws)
        return raws[position[0]]

    return next_raw


@dataclass(frozen=True)
class Sent:
    tx_id: str
    url: str
    at: float  # wall clock just before the request
    ok: bool


async def open_loop(session: aiohttp.ClientSession, urls: list[str], pool: VotePool, *, rate: float,
                    duration_s: float) -> list[Sent]:
    """Open loop: vote i is sent at start + i / rate, each in its own request, nodes in turn."""
    sent: list[Sent] = []

    async def one(raw: bytes, tx_id: str, url: str) -> None:
        at = time.time()
        try:
            async with session.post(url + "/v1/txs", data=raw, headers=JSON_HEADERS) as response:
                await response.read()
                sent.append(Sent(tx_id, url, at, response.status in (200, 202)))
        except (aiohttp.ClientError, OSError):
            sent.append(Sent(tx_id, url, at, False))

    tasks = []
    started = time.monotonic()
    for index in range(int(rate * duration_s)):
        item = pool.take(1)
        if not item:
            break
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(item[0][0], item[0][1], urls[index % len(urls)])))
    await asyncio.gather(*tasks)
    return sent


async def committed_in(session: aiohttp.ClientSession, url: str, from_height: int,
                       window: tuple[float, float]) -> float:
    """Transactions per second in the blocks this node stored within the wall-clock window."""
    stored = await committed_at(session, url, from_height)
    count = sum(1 for moment in stored.values() if window[0] <= moment <= window[1])
    return count / (window[1] - window[0])


async def committed_at(session: aiohttp.ClientSession, url: str, from_height: int) -> dict[str, float]:
    """tx id -> wall time at which this node stored its block."""
    result: dict[str, float] = {}
    height = from_height
    while True:
        async with session.get(f"{url}/v1/blocks?from={height}&limit=500") as response:
            page = await response.json(content_type=None)
        if not page["blocks"]:
            return result
        for entry in page["blocks"]:
            moment = datetime.fromisoformat(entry["committed_at"]).timestamp()
            for tx in entry["block"]["txs"]:
                result[Transaction.from_dict(tx).id_hex] = moment
        height = page["blocks"][-1]["height"] + 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def commit_latencies(session: aiohttp.ClientSession, urls: list[str], sent: list[Sent], *,
                           from_height: int) -> dict[str, Any]:
    stored = {url: await committed_at(session, url, from_height) for url in urls}
    latencies, missing = [], 0
    for item in sent:
        moment = stored[item.url].get(item.tx_id)
        if not item.ok or moment is None:
            missing += 1
            continue
        latencies.append((moment - item.at) * 1000)
    if not latencies:
        return {"commit_p50_ms": None, "commit_p99_ms": None, "latency_votes": 0, "latency_missing": missing}
    return {"commit_p50_ms": round(percentile(latencies, 0.50), 1), "commit_p99_ms": round(percentile(latencies, 0.99), 1),
            "commit_max_ms": round(max(latencies), 1), "latency_votes": len(latencies), "latency_missing": missing}
