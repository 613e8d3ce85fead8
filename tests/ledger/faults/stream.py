"""A steady stream of pre-signed votes sent to random nodes, recording what each node answered.

Like a persistent client: a vote goes to a random node; when that node does not answer,
answers 5xx or refuses it (a node that is still catching up may not know the election yet),
the vote goes to another node. Once a node admits it, the stream long-polls that same
node (``GET /v1/txs/{id}?wait_ms=``) and records an acknowledgement only when that node
says ``committed`` (with the height and block hash it names). A share of the admitted votes
is also resubmitted to a second node, as a client retrying after a timeout would, so the
network must deduplicate.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass, field

import aiohttp

from ledger.core.contracts.vote import candidate_address
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx

POST_TIMEOUT_S = 5.0
LONG_POLL_MS = 4000
ACK_WAIT_S = 30.0
ATTEMPTS = 3
ADMITTED = {"pending", "committed"}


@dataclass(frozen=True)
class PreparedVote:
    tx_id: str
    raw: bytes
    candidate: str


def prepare_votes(keys: list[PrivateKey], chain: str, candidates: tuple[str, ...], election: str = "e1") -> list[PreparedVote]:
    """Sign every vote before the stream starts (signing is the voter's cost, not the network's)."""
    votes = []
    for index, key in enumerate(keys):
        candidate = candidates[index % len(candidates)]
        tx = make_tx(key, chain=chain, contract="vote", type="transfer",
                     payload={"election": election, "to": candidate_address(election, candidate)})
        votes.append(PreparedVote(tx.id_hex, tx.to_bytes(), candidate))
    return votes


@dataclass(frozen=True)
class Ack:
    node: str
    height: int
    block_hash: str
    at: float


@dataclass
class VoteRecord:
    vote: PreparedVote
    answers: list[tuple[str, str]] = field(default_factory=list)  # (node, outcome)
    ack: Ack | None = None
    late_rejection: tuple[str, str] | None = None  # a node refused a vote it had admitted


class VoteStream:
    def __init__(self, urls: dict[str, str], votes: list[PreparedVote], *, rate: float, seed: int,
                 duplicate_share: float = 0.1) -> None:
        self.urls = urls
        self.votes = votes
        self.rate = rate
        self.rng = random.Random(seed)
        self.duplicate_share = duplicate_share
        self.records: dict[str, VoteRecord] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="vote-stream", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop submitting and wait for every outstanding long-poll to finish."""
        self._stop.set()
        self._thread.join(timeout=ACK_WAIT_S + POST_TIMEOUT_S * ATTEMPTS + 30)
        if self._thread.is_alive():
            raise AssertionError("the vote stream did not stop")
        if self.error is not None:
            raise AssertionError(f"the vote stream failed: {self.error!r}") from self.error

    @property
    def acked(self) -> list[VoteRecord]:
        return [r for r in list(self.records.values()) if r.ack is not None]

    def acked_since(self, moment: float) -> int:
        return sum(1 for r in self.acked if r.ack is not None and r.ack.at >= moment)

    def summary(self) -> dict[str, int]:
        records = list(self.records.values())
        outcomes: dict[str, int] = {}
        for record in records:
            for _, outcome in record.answers:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return {"attempted": len(records), "acked": sum(1 for r in records if r.ack), **outcomes}

    async def _main(self) -> None:
        try:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=POST_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                tasks = []
                started = time.monotonic()
                for index, vote in enumerate(self.votes):
                    if self._stop.is_set():
                        break
                    self.records[vote.tx_id] = VoteRecord(vote)
                    tasks.append(asyncio.create_task(self._one(session, self.records[vote.tx_id])))
                    delay = started + (index + 1) / self.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await asyncio.gather(*tasks)
        except BaseException as exc:  # noqa: BLE001  (reported by stop())
            self.error = exc

    async def _one(self, session: aiohttp.ClientSession, record: VoteRecord) -> None:
        nodes = self.rng.sample(sorted(self.urls), len(self.urls))
        admitted_by = None
        for node in nodes[:ATTEMPTS]:
            outcome = await self._post(session, node, record.vote.raw)
            record.answers.append((node, outcome))
            if outcome in ADMITTED:
                admitted_by = node
                break
        if admitted_by is None:
            return
        if self.rng.random() < self.duplicate_share:
            other = self.rng.choice([n for n in nodes if n != admitted_by])
            record.answers.append((other, "dup:" + await self._post(session, other, record.vote.raw)))
        await self._await_commit(session, record, admitted_by)

    async def _post(self, session: aiohttp.ClientSession, node: str, raw: bytes) -> str:
        try:
            async with session.post(self.urls[node] + "/v1/txs", data=raw,
                                    timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S)) as response:
                body = await response.json(content_type=None)
                if response.status in (200, 202):
                    return str(body["status"])
                return f"http_{response.status}:{body.get('code')}"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return "unreachable"

    async def _await_commit(self, session: aiohttp.ClientSession, record: VoteRecord, node: str) -> None:
        deadline = time.monotonic() + ACK_WAIT_S
        url = f"{self.urls[node]}/v1/txs/{record.vote.tx_id}?wait_ms={LONG_POLL_MS}"
        while time.monotonic() < deadline:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=LONG_POLL_MS / 1000 + 5)) as response:
                    body = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                return  # the node went away: no acknowledgement
            status = body.get("status")
            if status == "committed":
                record.ack = Ack(node, int(body["height"]), str(body["block_hash"]), time.time())
                return
            if status == "rejected":
                record.late_rejection = (node, str(body.get("code")))
                return
            if status != "pending":
                record.answers.append((node, f"poll:{status}"))  # e.g. unknown after a restart lost the mempool
                return
