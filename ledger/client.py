"""Synchronous client of the node HTTP API for the Django web app, with failover.

``NodeClient(urls)`` tries the node that answered last, then the others in order. A
connection failure, a timeout or a 5xx moves on to the next node (resubmitting a
transaction is harmless: nodes deduplicate by id); a 4xx is the request's own fault and
raises ``NodeRequestFailed`` carrying the node's error code. When no node answers,
``NodeUnavailable`` lists what each one said.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ledger.core.encoding import encode
from ledger.core.tx import Transaction

from .config import get_ledger_settings
from .errors import NodeRequestFailed, NodeUnavailable

MAX_BATCH = 1000
LONG_POLL_MS = 20_000
PENDING, COMMITTED, REJECTED, UNKNOWN = "pending", "committed", "rejected", "unknown"


@dataclass(frozen=True)
class TxStatus:
    """What a node knows about one transaction."""

    id: str | None
    status: str  # pending | committed | rejected | unknown
    height: int | None = None
    block_hash: str | None = None
    code: str = ""
    message: str = ""

    @property
    def is_final(self) -> bool:
        return self.status in {COMMITTED, REJECTED}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TxStatus:
        return cls(id=data.get("id"), status=str(data.get("status", UNKNOWN)), height=data.get("height"),
                   block_hash=data.get("block_hash"), code=str(data.get("code", "")),
                   message=str(data.get("message", "")))


def _tx_bytes(tx: Transaction | bytes) -> bytes:
    return tx if isinstance(tx, bytes) else tx.to_bytes()


class NodeClient:
    def __init__(self, urls: Sequence[str], *, timeout_s: float = 5.0) -> None:
        if not urls:
            raise ValueError("NodeClient needs at least one node URL")
        self.urls = tuple(url.rstrip("/") for url in urls)
        self.timeout_s = timeout_s
        self._preferred = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> NodeClient:
        config = get_ledger_settings()
        return cls(config.node_urls, timeout_s=config.request_timeout_s)

    # --- transport --------------------------------------------------------------------------

    def _order(self) -> list[int]:
        with self._lock:
            first = self._preferred
        return [first] + [index for index in range(len(self.urls)) if index != first]

    def _request(self, method: str, path: str, *, body: bytes | None = None, timeout_s: float | None = None,
                 url: str | None = None) -> tuple[bytes, str]:
        """One request with failover (or to ``url`` only); returns (body, url of the node that answered)."""
        failures: dict[str, str] = {}
        targets = [url] if url is not None else [self.urls[i] for i in self._order()]
        for base in targets:
            try:
                data = self._once(method, base + path, body, timeout_s or self.timeout_s)
            except _Retryable as exc:
                failures[base] = str(exc)
                continue
            if url is None:
                with self._lock:
                    self._preferred = self.urls.index(base)
            return data, base
        raise NodeUnavailable(detail={"path": path, "nodes": failures})

    @staticmethod
    def _once(method: str, url: str, body: bytes | None, timeout_s: float) -> bytes:
        request = urllib.request.Request(url, data=body, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            if exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code}") from exc
            try:
                error = json.loads(payload)
            except ValueError:
                error = {}
            if not isinstance(error, dict):
                error = {}
            raise NodeRequestFailed(str(error.get("message") or f"HTTP {exc.code}"),
                                    detail=error.get("detail") if isinstance(error.get("detail"), dict) else {},
                                    node_code=str(error.get("code") or f"http_{exc.code}"), status=exc.code) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc

    def _get_json(self, path: str, **kwargs: Any) -> Any:
        data, _ = self._request("GET", path, **kwargs)
        try:
            return json.loads(data)
        except ValueError as exc:  # something else answers on that port (a proxy page, a broken node)
            raise NodeRequestFailed("the node answered with something that is not JSON",
                                    detail={"path": path.split("?")[0]}, node_code="not_json") from exc

    # --- transactions -----------------------------------------------------------------------

    def submit(self, tx: Transaction | bytes) -> TxStatus:
        return self.submit_many([tx])[0]

    def submit_many(self, txs: Iterable[Transaction | bytes]) -> list[TxStatus]:
        """Submit in batches of up to 1000; one status per transaction, in order."""
        raw = [_tx_bytes(tx) for tx in txs]
        results: list[TxStatus] = []
        for start in range(0, len(raw), MAX_BATCH):
            body = b'{"txs":[' + b",".join(raw[start:start + MAX_BATCH]) + b"]}"
            data, _ = self._request("POST", "/v1/txs", body=body, timeout_s=max(self.timeout_s, 30.0))
            results += [TxStatus.from_dict(item) for item in json.loads(data)["results"]]
        return results

    def get_tx(self, tx_id: str | bytes, *, wait_ms: int = 0) -> TxStatus:
        hex_id = tx_id.hex() if isinstance(tx_id, bytes) else tx_id
        query = f"?wait_ms={wait_ms}" if wait_ms else ""
        return TxStatus.from_dict(self._get_json(f"/v1/txs/{hex_id}{query}",
                                                 timeout_s=self.timeout_s + wait_ms / 1000))

    def wait(self, tx_id: str | bytes, timeout_s: float) -> TxStatus:
        """Long-poll until the transaction is committed or rejected, or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            status = self.get_tx(tx_id, wait_ms=max(0, min(remaining_ms, LONG_POLL_MS)))
            if status.is_final or time.monotonic() >= deadline:
                return status

    def commit_many(self, txs: Sequence[Transaction | bytes], timeout_s: float) -> list[TxStatus]:
        """Submit, then wait for every transaction that is still pending (shared deadline).

        A node that answers but cannot commit (cut off from the others, so no quorum) keeps
        transactions pending forever. When the deadline passes with something still pending,
        the next node becomes the preferred one, so the caller's retry (the same bytes, hence the
        same id: no duplicate) goes elsewhere instead of back to the same stuck node.
        """
        deadline = time.monotonic() + timeout_s
        results = self.submit_many(txs)
        final = []
        for status in results:
            if not status.is_final and status.id is not None:
                status = self.wait(status.id, max(0.0, deadline - time.monotonic()))
            final.append(status)
        if any(not status.is_final for status in final):
            self.prefer_next()
        return final

    def prefer_next(self) -> None:
        """Move the preferred node one step along the list (after it failed to commit in time)."""
        with self._lock:
            self._preferred = (self._preferred + 1) % len(self.urls)

    # --- reads ------------------------------------------------------------------------------

    def status(self, url: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._get_json("/v1/status", url=url)
        return result

    def statuses(self) -> dict[str, dict[str, Any] | NodeUnavailable | NodeRequestFailed]:
        """Every configured node's status, fetched in parallel; failures are returned, not raised."""
        def one(url: str) -> dict[str, Any] | NodeUnavailable | NodeRequestFailed:
            try:
                return self.status(url)
            except (NodeUnavailable, NodeRequestFailed) as exc:
                return exc

        with ThreadPoolExecutor(max_workers=min(16, len(self.urls))) as pool:
            return dict(zip(self.urls, pool.map(one, self.urls)))

    def query(self, contract: str, name: str, args: dict[str, Any] | None = None) -> Any:
        params = urllib.parse.urlencode({"args": encode(args or {}).decode("utf-8")})
        path = f"/v1/query/{urllib.parse.quote(contract)}/{urllib.parse.quote(name)}?{params}"
        return self._get_json(path)["result"]

    def genesis(self) -> bytes:
        data, _ = self._request("GET", "/v1/genesis")
        return data

    def blocks(self, from_height: int = 1, limit: int = 100, *, url: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._get_json(f"/v1/blocks?from={from_height}&limit={limit}", url=url)
        return result

    def block(self, height: int, *, url: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._get_json(f"/v1/blocks/{height}", url=url)
        return result

    def iter_blocks(self, from_height: int = 1, *, page: int = 100) -> Iterator[dict[str, Any]]:
        """Every committed block entry from ``from_height`` to the head, page by page."""
        height = from_height
        while True:
            entries = self.blocks(height, page)["blocks"]
            if not entries:
                return
            yield from entries
            height = entries[-1]["height"] + 1


class _Retryable(Exception):
    """Transport failure or 5xx: try the next node."""
