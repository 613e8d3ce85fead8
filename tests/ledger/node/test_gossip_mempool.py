"""Sending a mempool to a (re)connected peer must not starve the node's event loop.

bench/campaign.py found a node spending 80 % of its loop re-sending a 50k-transaction mempool
in one blocking call on every reconnect; peers then timed the link out and it flapped. These
tests pin the fix: frames go out one at a time with yields in between, back-pressure instead of
overflowing the peer's bounded queue, and the transfer stops when the peer is no longer ours.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ledger.node.gossip import GOSSIP_BATCH, TxGossip
from ledger.node.peers import QUEUE_FRAMES


@dataclass
class _Tx:
    raw: bytes

    def to_bytes(self) -> bytes:
        return self.raw


@dataclass
class _Peers:
    """The two PeerNetwork methods send_mempool uses, with a queue drained at a chosen pace."""

    queue: int = 0
    linked: bool = True
    sent: int = 0
    peak: int = 0
    order: list[str] = field(default_factory=list)

    def queued(self, peer: str) -> int | None:
        return self.queue if self.linked else None

    def send_to(self, peer: str, frame: bytes) -> None:
        self.queue += 1
        self.sent += 1
        self.peak = max(self.peak, self.queue)
        self.order.append("frame")


def _txs(count: int) -> list[_Tx]:
    return [_Tx(b'{"n":%d}' % i) for i in range(count)]


def test_frames_interleave_with_other_work() -> None:
    peers = _Peers()
    gossip = TxGossip.__new__(TxGossip)
    gossip.peers = peers  # type: ignore[assignment]

    async def other_work() -> None:
        for _ in range(30):
            peers.order.append("tick")
            peers.queue = 0  # the link writer drains everything between ticks
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(gossip.send_mempool("p", _txs(GOSSIP_BATCH * 20)), other_work())  # type: ignore[arg-type]

    asyncio.run(main())
    assert peers.sent == 20
    first_tick = peers.order.index("tick")
    # Other work ran before the transfer finished, and between consecutive frames.
    assert first_tick < len(peers.order) - 1 and "frame" in peers.order[first_tick:]
    assert all(not (a == b == "frame") for a, b in zip(peers.order, peers.order[1:]))


def test_waits_for_a_slow_peer_instead_of_overflowing_its_queue() -> None:
    peers = _Peers(queue=QUEUE_FRAMES // 4 + 10)
    gossip = TxGossip.__new__(TxGossip)
    gossip.peers = peers  # type: ignore[assignment]

    async def slow_drain() -> None:
        while peers.sent < 30:
            await asyncio.sleep(0.01)
            peers.queue = max(0, peers.queue - 5)

    async def main() -> None:
        await asyncio.wait_for(
            asyncio.gather(gossip.send_mempool("p", _txs(GOSSIP_BATCH * 30)), slow_drain()),  # type: ignore[arg-type]
            timeout=30,
        )

    asyncio.run(main())
    assert peers.sent == 30
    assert peers.peak <= QUEUE_FRAMES // 4 + 1


def test_stops_when_the_peer_goes_away() -> None:
    peers = _Peers(queue=QUEUE_FRAMES)  # full: the sender waits
    gossip = TxGossip.__new__(TxGossip)
    gossip.peers = peers  # type: ignore[assignment]

    async def main() -> None:
        task = asyncio.create_task(gossip.send_mempool("p", _txs(GOSSIP_BATCH * 5)))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        peers.linked = False
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(main())
    assert peers.sent == 0
