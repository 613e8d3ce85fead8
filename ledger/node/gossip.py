"""Transaction gossip: newly admitted transactions go to every peer in batched frames.

Only transactions admitted from clients (and our own evidence) are gossiped; a node that
receives them from a peer does not forward them again, since every node is connected to
every other. A peer that (re)connects is sent our whole mempool, so nothing it missed
while away stays stuck on this node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ledger.core.tx import Transaction

from .frames import MAX_TXS_PER_FRAME, encode_txs_frame
from .peers import QUEUE_FRAMES, PeerNetwork

GOSSIP_BATCH = min(500, MAX_TXS_PER_FRAME)
GOSSIP_DELAY_S = 0.005
MEMPOOL_BACKOFF_S = 0.05  # wait while a peer's frame queue drains (send_mempool)


class TxGossip:
    def __init__(self, peers: PeerNetwork) -> None:
        self.peers = peers
        self._pending: list[bytes] = []
        self._wake = asyncio.Event()

    def queue(self, tx_bytes: Sequence[bytes]) -> None:
        self._pending.extend(tx_bytes)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(GOSSIP_DELAY_S)  # let a burst of submissions share frames
            self._wake.clear()
            batch, self._pending = self._pending, []
            for start in range(0, len(batch), GOSSIP_BATCH):
                self.peers.broadcast(encode_txs_frame(batch[start:start + GOSSIP_BATCH]))

    async def send_mempool(self, peer: str, txs: Sequence[Transaction]) -> None:
        """Send a (re)connected peer our mempool, one frame at a time, yielding in between.

        Encoding a 50,000-transaction mempool in one loop blocked the node's event loop for
        seconds on a loaded machine; peers then timed the link out, and every reconnect sent the
        whole mempool again (found by bench/campaign.py). So each frame is followed by a yield,
        and we wait while the peer's queue is more than a quarter full instead of letting the
        bounded queue drop its oldest frames, which may be consensus messages.
        """
        for start in range(0, len(txs), GOSSIP_BATCH):
            while True:
                queued = self.peers.queued(peer)
                if queued is None:
                    return
                if queued <= QUEUE_FRAMES // 4:
                    break
                await asyncio.sleep(MEMPOOL_BACKOFF_S)
            self.peers.send_to(peer, encode_txs_frame([tx.to_bytes() for tx in txs[start:start + GOSSIP_BATCH]]))
            await asyncio.sleep(0)
