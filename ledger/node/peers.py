"""Peer transport: authenticated websockets between validators, with reconnect and backoff.

Every node dials every peer (``GET /v1/peer``) and sends its frames over the connection it
dialled; frames from a peer arrive on the connection that peer dialled. On accept, the
server sends a fresh random challenge naming itself, the chain and the genesis hash; the
dialler answers with its validator id and a signature by its node key over
``EVOTE-PEER-V1:`` + SHA-256(canonical {chain, client, genesis, nonce, server, v}). The
server checks it against the genesis validator key, so a stranger cannot pose as a
validator, and naming the server stops a signature being relayed to another node.

Frames are binary canonical JSON ``{"m": body, "t": kind}``; this module does not look
inside them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from ledger.core import crypto
from ledger.core.consensus.messages import MAX_MESSAGE_BYTES
from ledger.core.encoding import encode, sha256
from ledger.core.genesis import Genesis

logger = logging.getLogger(__name__)

PEER_AUTH_TAG = b"EVOTE-PEER-V1:"
PEER_PATH = "/v1/peer"
HANDSHAKE_TIMEOUT_S = 5.0
HEARTBEAT_S = 5.0
QUEUE_FRAMES = 4096
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0
CLOSE_AUTH_FAILED = 4003
CLOSE_REPLACED = 4000

FrameHandler = Callable[[str, bytes], Awaitable[None]]


def peer_auth_message(chain: str, genesis_hash: str, server: str, client: str, nonce: str) -> bytes:
    body = {"v": 1, "chain": chain, "genesis": genesis_hash, "server": server, "client": client, "nonce": nonce}
    return PEER_AUTH_TAG + sha256(encode(body))


class HandshakeFailed(Exception):
    """The other side is not the peer we meant, or is on another chain."""


@dataclass
class _Link:
    """The outgoing side of one peer: a bounded frame queue and the current socket."""

    peer: str
    url: str
    frames: deque[bytes] = field(default_factory=lambda: deque(maxlen=QUEUE_FRAMES))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    redial: asyncio.Event = field(default_factory=asyncio.Event)  # set when the peer dialled us: it is up
    ws: aiohttp.ClientWebSocketResponse | None = None
    last_error: str = ""
    connects: int = 0


class PeerNetwork:
    def __init__(
        self,
        *,
        node_id: str,
        key: crypto.PrivateKey,
        genesis: Genesis,
        peers: dict[str, str],
        on_frame: FrameHandler,
        on_connected: Callable[[str], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self.key = key
        self.genesis = genesis
        self.genesis_hash = genesis.hash.hex()
        self.on_frame = on_frame
        self.on_connected = on_connected
        self._links = {peer: _Link(peer, url) for peer, url in peers.items()}
        self._incoming: dict[str, web.WebSocketResponse] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        for link in self._links.values():
            self._tasks.append(asyncio.create_task(self._dial_loop(link), name=f"peer-{link.peer}"))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for ws in list(self._incoming.values()):
            await ws.close()
        self._incoming.clear()

    # --- sending --------------------------------------------------------------------------------

    def broadcast(self, frame: bytes) -> None:
        for link in self._links.values():
            self._enqueue(link, frame)

    def send_to(self, peer: str, frame: bytes) -> None:
        link = self._links.get(peer)
        if link is not None:
            self._enqueue(link, frame)

    def queued(self, peer: str) -> int | None:
        """Frames waiting for this peer, or None when it is not one of ours (for back-pressure)."""
        link = self._links.get(peer)
        return None if link is None else len(link.frames)

    def _enqueue(self, link: _Link, frame: bytes) -> None:
        if len(link.frames) == link.frames.maxlen:
            self.frames_dropped += 1  # the deque drops the oldest; consensus re-broadcasts
        link.frames.append(frame)
        link.wake.set()

    # --- status ---------------------------------------------------------------------------------

    def url_of(self, peer: str) -> str | None:
        link = self._links.get(peer)
        return None if link is None else link.url

    def connected_count(self) -> int:
        return sum(1 for link in self._links.values() if link.ws is not None and not link.ws.closed)

    def describe(self) -> dict[str, dict[str, Any]]:
        return {
            peer: {
                "url": link.url,
                "outbound": link.ws is not None and not link.ws.closed,
                "inbound": peer in self._incoming,
                "queued": len(link.frames),
                "last_error": link.last_error,
            }
            for peer, link in sorted(self._links.items())
        }

    # --- outgoing connections -------------------------------------------------------------------

    async def _dial_loop(self, link: _Link) -> None:
        backoff = BACKOFF_MIN_S
        while not self._stopping:
            try:
                await self._connect_and_pump(link)
                backoff = BACKOFF_MIN_S
            except asyncio.CancelledError:
                raise
            except HandshakeFailed as exc:
                link.last_error = str(exc)
                logger.error("peer %s: %s", link.peer, exc)
                backoff = BACKOFF_MAX_S
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                link.last_error = f"{type(exc).__name__}: {exc}"
                logger.debug("peer %s unreachable: %s", link.peer, link.last_error)
            finally:
                link.ws = None
            link.redial.clear()
            try:
                async with asyncio.timeout(backoff * random.uniform(0.5, 1.5)):
                    await link.redial.wait()
                backoff = BACKOFF_MIN_S  # the peer just reached us, so it is listening again
            except TimeoutError:
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _connect_and_pump(self, link: _Link) -> None:
        assert self._session is not None  # start() sets it; a bug otherwise, not input
        async with self._session.ws_connect(
            link.url + PEER_PATH, heartbeat=HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
        ) as ws:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):  # not wait_for: see runtime.next_items
                await self._client_handshake(ws, link.peer)
            link.ws = ws
            link.connects += 1
            link.last_error = ""
            logger.info("connected to peer %s at %s", link.peer, link.url)
            if self.on_connected is not None:
                self.on_connected(link.peer)
            reader = asyncio.create_task(self._drain_reads(ws))
            writer = asyncio.create_task(self._pump(link, ws))
            try:
                await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, writer):
                    task.cancel()
                await asyncio.gather(reader, writer, return_exceptions=True)
            logger.info("lost connection to peer %s", link.peer)

    async def _client_handshake(self, ws: aiohttp.ClientWebSocketResponse, peer: str) -> None:
        challenge = await _receive_json(ws)
        if challenge.get("t") != "challenge":
            raise HandshakeFailed(f"expected a challenge, got {str(challenge.get('t'))[:40]!r}")
        if challenge.get("chain") != self.genesis.chain or challenge.get("genesis") != self.genesis_hash:
            raise HandshakeFailed(
                f"peer runs chain {str(challenge.get('chain'))[:64]!r} with genesis "
                f"{str(challenge.get('genesis'))[:16]}..., not ours ({self.genesis.chain}, {self.genesis_hash[:16]}...)"
            )
        if challenge.get("node") != peer:
            raise HandshakeFailed(f"expected node {peer}, the server says it is {str(challenge.get('node'))[:64]!r}")
        nonce = challenge.get("nonce")
        if not isinstance(nonce, str) or len(nonce) != 64:
            raise HandshakeFailed("malformed challenge nonce")
        message = peer_auth_message(self.genesis.chain, self.genesis_hash, peer, self.node_id, nonce)
        await ws.send_str(json.dumps({"t": "hello", "node": self.node_id, "sig": self.key.sign(message).hex()}))
        answer = await _receive_json(ws)
        if answer.get("t") != "welcome":
            raise HandshakeFailed(f"peer refused us: {str(answer.get('code', answer.get('t')))[:80]}")

    async def _pump(self, link: _Link, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            while link.frames:
                frame = link.frames.popleft()
                await ws.send_bytes(frame)
                self.frames_out += 1
            link.wake.clear()
            await link.wake.wait()

    @staticmethod
    async def _drain_reads(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:  # keeps heartbeats and the close handshake going
            pass

    # --- incoming connections -------------------------------------------------------------------

    async def handle_incoming(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for GET /v1/peer."""
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        peer = await self._server_handshake(ws)
        if peer is None:
            return ws
        old = self._incoming.get(peer)
        self._incoming[peer] = ws
        link = self._links.get(peer)
        if link is not None and link.ws is None:
            link.redial.set()
        if old is not None:
            await old.close(code=CLOSE_REPLACED, message=b"replaced by a newer connection")
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    self.frames_in += 1
                    await self.on_frame(peer, message.data)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            if self._incoming.get(peer) is ws:
                del self._incoming[peer]
        return ws

    async def _server_handshake(self, ws: web.WebSocketResponse) -> str | None:
        nonce = secrets.token_hex(32)
        await ws.send_str(json.dumps({"t": "challenge", "chain": self.genesis.chain, "genesis": self.genesis_hash,
                                      "node": self.node_id, "nonce": nonce}))
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                hello = await _receive_json(ws)
        except (TimeoutError, HandshakeFailed, ValueError):
            await ws.close(code=CLOSE_AUTH_FAILED, message=b"handshake failed")
            return None
        peer = hello.get("node")
        validator = self.genesis.validator(peer) if isinstance(peer, str) else None
        ok = hello.get("t") == "hello" and validator is not None and peer != self.node_id
        if ok:
            try:
                signature = bytes.fromhex(str(hello.get("sig")))
            except ValueError:
                signature = b""
            message = peer_auth_message(self.genesis.chain, self.genesis_hash, self.node_id, str(peer), nonce)
            ok = validator is not None and crypto.is_valid_signature(validator.pubkey, signature, message)
        if not ok:
            logger.warning("refused a peer connection claiming to be %r", str(peer)[:64])
            await ws.send_str(json.dumps({"t": "error", "code": "peer_auth_failed"}))
            await ws.close(code=CLOSE_AUTH_FAILED, message=b"authentication failed")
            return None
        await ws.send_str(json.dumps({"t": "welcome"}))
        return str(peer)


async def _receive_json(ws: Any) -> dict[str, Any]:
    message = await ws.receive()
    if message.type != aiohttp.WSMsgType.TEXT:
        raise HandshakeFailed(f"connection closed during the handshake ({message.type.name})")
    data = json.loads(message.data)
    if not isinstance(data, dict):
        raise HandshakeFailed("handshake message is not an object")
    return data
