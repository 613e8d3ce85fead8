"""Fetching blocks from a peer over HTTP. Nothing fetched is trusted: the caller verifies
each block's certificate against the genesis and re-executes it before committing."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from ledger.core.consensus.messages import CommitMessage
from ledger.core.encoding import decode, require_keys
from ledger.core.errors import LedgerError, MalformedObject
from ledger.core.genesis import Genesis

if TYPE_CHECKING:
    from .runtime import Node

logger = logging.getLogger(__name__)

SYNC_PAGE_BLOCKS = 100
MAX_PAGE_BYTES = 64 * 1024 * 1024
STATUS_TIMEOUT_S = 1.5
PAGE_TIMEOUT_S = 60.0
INITIAL_SYNC_WAIT_S = 3.0
INITIAL_SYNC_ROUNDS = 5
_ENTRY_KEYS = frozenset({"block", "cert", "committed_at", "hash", "height"})


@dataclass(frozen=True)
class SyncPage:
    messages: tuple[CommitMessage, ...]


def read_page(body: bytes) -> SyncPage:
    """Strictly decode a ``GET /v1/blocks`` answer into commit messages, in height order."""
    page = require_keys(decode(body), frozenset({"blocks", "height"}), "block page")
    entries = page["blocks"]
    if type(entries) is not list:
        raise MalformedObject("blocks must be a list", field="blocks")
    messages = []
    for entry in entries:
        obj = require_keys(entry, _ENTRY_KEYS, "block entry")
        messages.append(CommitMessage.from_dict({"block": obj["block"], "cert": obj["cert"]}))
    heights = [m.block.height for m in messages]
    if heights and heights != list(range(heights[0], heights[0] + len(heights))):
        raise MalformedObject("blocks are not consecutive", field="blocks")
    return SyncPage(tuple(messages))


async def fetch_block_page(session: aiohttp.ClientSession, base_url: str, from_height: int) -> bytes:
    url = f"{base_url}/v1/blocks"
    params = {"from": str(from_height), "limit": str(SYNC_PAGE_BLOCKS)}
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=PAGE_TIMEOUT_S)) as response:
        if response.status != 200:
            raise aiohttp.ClientResponseError(response.request_info, (), status=response.status,
                                              message=f"GET /v1/blocks answered {response.status}")
        if (response.content_length or 0) > MAX_PAGE_BYTES:
            raise aiohttp.ClientPayloadError("block page too large")
        return await response.read()


async def fetch_peer_status(session: aiohttp.ClientSession, base_url: str, genesis: Genesis) -> dict[str, Any] | None:
    """A peer's /v1/status if it answers and runs our chain and genesis; else None."""
    try:
        async with session.get(f"{base_url}/v1/status", timeout=aiohttp.ClientTimeout(total=STATUS_TIMEOUT_S)) as resp:
            if resp.status != 200:
                return None
            status = await resp.json()
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
        return None
    if not isinstance(status, dict) or status.get("genesis_hash") != genesis.hash.hex():
        if isinstance(status, dict):
            logger.error("peer %s runs another genesis (%s); ignoring it", base_url, status.get("genesis_hash"))
        return None
    if type(status.get("height")) is not int:
        return None
    return status


class ChainSync:
    """Catching up with peers: before the engine starts (direct), and when the engine asks.

    Direct mode commits through ``NodeApplication.verify_and_commit`` (certificate against
    the genesis, then execution). Engine mode hands each fetched block to the engine as a
    ``CommitMessage`` through the node's inbox; the engine checks the certificate and asks
    the application to execute the block before committing it.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.active = False
        self._task: asyncio.Task[None] | None = None

    async def initial(self, session: aiohttp.ClientSession) -> None:
        """Before participating: catch up with the highest reachable peer (bounded wait)."""
        node = self.node
        if not node.config.peers:
            return
        self.active = True
        started = time.monotonic()
        try:
            for _ in range(INITIAL_SYNC_ROUNDS):
                statuses = await asyncio.gather(*[
                    fetch_peer_status(session, url, node.genesis) for url in node.config.peers.values()
                ])
                reachable = [(s["height"], peer) for peer, s in zip(node.config.peers, statuses) if s is not None]
                if not reachable:
                    if time.monotonic() - started > INITIAL_SYNC_WAIT_S:
                        logger.info("no peer reachable; starting at height %s", node.height)
                        return
                    await asyncio.sleep(0.3)
                    continue
                best_height, best_peer = max(reachable)
                if best_height <= node.height:
                    return
                logger.info("syncing from %s: height %s -> %s", best_peer, node.height, best_height)
                if not await self._direct(session, best_peer):
                    return
        finally:
            self.active = False

    async def _direct(self, session: aiohttp.ClientSession, peer: str) -> bool:
        node = self.node
        url = node.config.peers[peer]
        while True:
            try:
                body = await fetch_block_page(session, url, node.height + 1)
                page = await node.in_state(read_page, body)
                committed = await node.in_state(node.commit_page_direct, page)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                logger.warning("sync from %s failed: %s", peer, exc)
                return False
            except LedgerError as exc:
                logger.error("peer %s served an invalid block: %s %s %s", peer, exc.code, exc.message, exc.detail)
                return False
            for block, cert in committed:
                node.persist(block, cert)
            if not committed:
                return True

    def request(self, session: aiohttp.ClientSession, peer: str) -> None:
        """The engine saw messages from far ahead: fetch blocks from that peer (one sync at a time)."""
        if peer in self.node.config.peers and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._via_engine(session, peer))

    async def _via_engine(self, session: aiohttp.ClientSession, peer: str) -> None:
        node = self.node
        self.active = True
        start = node.height
        logger.info("behind the network at height %s: syncing from %s", start, peer)
        try:
            while True:
                body = await fetch_block_page(session, node.config.peers[peer], node.height + 1)
                page = await node.in_state(read_page, body)
                if not page.messages:
                    break
                applied, error = await node.feed_sync_page(peer, page)
                if error is not None:
                    logger.error("sync from %s stopped: %s", peer, error)
                    return
                if applied == 0:
                    break
            logger.info("synced from %s: height %s -> %s", peer, start, node.height)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            logger.warning("sync from %s failed: %s", peer, exc)
        except LedgerError as exc:
            logger.error("peer %s served an undecodable block page: %s", peer, exc.message)
        finally:
            self.active = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
