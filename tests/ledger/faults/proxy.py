"""Network partitions for real node processes: one TCP proxy per ordered pair of nodes.

Node A reaches node B only through the proxy ``(A, B)``: A's ``node.json`` names the proxy as
B's URL, so A's peer websocket to B *and* A's block-sync requests to B go through it. The
nodes are unchanged; they cannot tell a proxy from the peer (peers authenticate by key,
not by address). Clients of the test still reach every node directly, as voters on the
far side of a partition would.

``isolate(node)`` blackholes every pair to or from that node, like a firewall DROP rule:
open connections stay open but every byte is silently discarded, and new connections are
accepted and then ignored, so the nodes only notice through their own timeouts and
heartbeats. ``heal(node)`` resets the blackholed connections (their byte streams have
holes, so they cannot resume) and forwards new connections again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class _Pair:
    source: str
    target: str
    target_port: int
    server: asyncio.base_events.Server | None = None
    port: int = 0
    cut: bool = False
    connections: set[asyncio.StreamWriter] = field(default_factory=set)
    tainted: set[asyncio.StreamWriter] = field(default_factory=set)


class PairProxies:
    """All pair proxies, served by one event loop in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pair-proxies", daemon=True)
        self._thread.start()

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def add(self, source: str, target: str, target_port: int) -> int:
        """Start the proxy through which ``source`` reaches ``target``; returns its port."""
        pair = _Pair(source, target, target_port)
        self._pairs[(source, target)] = pair
        return int(self._call(self._serve(pair)))

    async def _serve(self, pair: _Pair) -> int:
        pair.server = await asyncio.start_server(lambda r, w: self._accept(pair, r, w), self.host, 0)
        pair.port = pair.server.sockets[0].getsockname()[1]
        return pair.port

    async def _accept(self, pair: _Pair, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pair.connections.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if pair.cut:
                pair.tainted.add(writer)
                await _discard(reader)
                return
            try:
                up_reader, upstream = await asyncio.open_connection(self.host, pair.target_port)
            except OSError:
                return  # the target is down: the dialler sees its connection close
            pair.connections.add(upstream)
            await asyncio.gather(self._pump(pair, reader, upstream, writer),
                                 self._pump(pair, up_reader, writer, upstream))
        finally:
            for side in (writer, upstream):
                if side is not None:
                    pair.connections.discard(side)
                    pair.tainted.discard(side)
                    side.transport.abort()

    @staticmethod
    async def _pump(pair: _Pair, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    other: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                if pair.cut:
                    pair.tainted.update((writer, other))
                    continue  # blackholed: the bytes vanish
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            other.transport.abort()

    def _matching(self, node: str) -> Iterable[_Pair]:
        return [p for p in self._pairs.values() if node in (p.source, p.target)]

    def isolate(self, node: str) -> None:
        async def cut() -> None:
            for pair in self._matching(node):
                pair.cut = True
                pair.tainted.update(pair.connections)

        self._call(cut())

    def heal(self, node: str) -> None:
        async def heal() -> None:
            for pair in self._matching(node):
                pair.cut = False
                for writer in list(pair.tainted):
                    writer.transport.abort()
                pair.tainted.clear()

        self._call(heal())

    def close(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            for pair in self._pairs.values():
                if pair.server is not None:
                    pair.server.close()
                for writer in list(pair.connections):
                    writer.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self._call(close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


async def _discard(reader: asyncio.StreamReader) -> None:
    try:
        while await reader.read(CHUNK):
            pass
    except (ConnectionError, OSError):
        pass
