"""Long-poll support: coroutines waiting for a transaction to become final."""

from __future__ import annotations

import asyncio


class TxWaiters:
    """Futures per transaction id, woken when it is stored in a block or rejected (event loop only)."""

    def __init__(self) -> None:
        self._futures: dict[bytes, list[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return sum(len(futures) for futures in self._futures.values())

    async def wait(self, tx_id: bytes, timeout_s: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures.setdefault(tx_id, []).append(future)
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: see runtime.next_items
                await future
        except TimeoutError:
            pass
        finally:
            futures = self._futures.get(tx_id)
            if futures is not None and future in futures:
                futures.remove(future)
                if not futures:
                    del self._futures[tx_id]

    def wake(self, tx_id: bytes) -> None:
        for future in self._futures.pop(tx_id, []):
            if not future.done():
                future.set_result(None)

    def wake_all(self) -> None:
        for tx_id in list(self._futures):
            self.wake(tx_id)
