"""Peer websockets: validators authenticate with their node key; strangers and other chains are refused."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ledger.core.consensus.sim_app import SimNetwork, key_for, make_sim_network
from ledger.core.crypto import PrivateKey
from ledger.node.peers import PeerNetwork
from tests.ledger.node.support import free_port_block

pytestmark = pytest.mark.network


class Endpoint:
    """A PeerNetwork served on a loopback port, recording the frames it receives."""

    def __init__(self, network: SimNetwork, node_id: str, key: PrivateKey, port: int, peers: dict[str, str]) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.peers = PeerNetwork(node_id=node_id, key=key, genesis=network.genesis, peers=peers,
                                 on_frame=self._on_frame)
        self.port = port
        self.runner: web.AppRunner | None = None

    async def _on_frame(self, peer: str, data: bytes) -> None:
        self.received.append((peer, data))

    async def start(self, session: aiohttp.ClientSession) -> None:
        app = web.Application()
        app.router.add_get("/v1/peer", self.peers.handle_incoming)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.peers.start(session)

    async def stop(self) -> None:
        await self.peers.stop()
        if self.runner is not None:
            await self.runner.cleanup()


async def _until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


def test_validators_connect_and_exchange_frames() -> None:
    network = make_sim_network(2)
    base = free_port_block(2)
    url = {vid: f"http://127.0.0.1:{base + i}" for i, vid in enumerate(network.ids)}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            a = Endpoint(network, "v0", network.keys["v0"], base, {"v1": url["v1"]})
            b = Endpoint(network, "v1", network.keys["v1"], base + 1, {"v0": url["v0"]})
            await a.start(session)
            await b.start(session)
            try:
                assert await _until(lambda: a.peers.connected_count() == 1 and b.peers.connected_count() == 1)
                a.peers.broadcast(b'{"m":[],"t":"txs"}')
                b.peers.send_to("v0", b"frame-for-a")
                assert await _until(lambda: b.received and a.received)
                assert b.received == [("v0", b'{"m":[],"t":"txs"}')]
                assert a.received == [("v1", b"frame-for-a")]
                assert a.peers.describe()["v1"]["inbound"] is True
            finally:
                await a.stop()
                await b.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("who", ["stranger_key", "other_chain"])
def test_impostors_are_refused(who: str) -> None:
    network = make_sim_network(2)
    base = free_port_block(2)
    honest_url = f"http://127.0.0.1:{base + 1}"
    impostor_network = network if who == "stranger_key" else make_sim_network(2, chain="other-chain")
    impostor_key = key_for("not-a-validator") if who == "stranger_key" else impostor_network.keys["v0"]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            honest = Endpoint(network, "v1", network.keys["v1"], base + 1, {"v0": f"http://127.0.0.1:{base}"})
            impostor = Endpoint(impostor_network, "v0", impostor_key, base, {"v1": honest_url})
            await honest.start(session)
            await impostor.start(session)
            try:
                link_error = lambda: impostor.peers.describe()["v1"]["last_error"]
                assert await _until(lambda: bool(link_error()))
                impostor.peers.broadcast(b"forged vote")
                await asyncio.sleep(0.3)
                assert honest.received == []
                assert impostor.peers.connected_count() == 0
                expected = "refused us: peer_auth_failed" if who == "stranger_key" else "not ours"
                assert expected in link_error()
            finally:
                await impostor.stop()
                await honest.stop()

    asyncio.run(scenario())
