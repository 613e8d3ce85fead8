"""A minimal HTTP client for the node API (standard library only: ``ledger.client`` needs Django)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ledger.core.tx import IDENT_RE

from .errors import NodeUnreachable

MAX_BODY_BYTES = 64 * 1024 * 1024
PAGE_LIMIT = 100


class NodeApi:
    """One node's public API. Every answer is untrusted bytes; callers verify them."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.node_id: str | None = None  # learnt from /v1/status; a claim, used only as a label

    @property
    def label(self) -> str:
        return self.node_id or self.url

    def get(self, path: str) -> bytes:
        """The body of a 200 answer; anything else raises NodeUnreachable."""
        request = urllib.request.Request(self.url + path, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body: bytes = response.read(MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise NodeUnreachable(f"GET {path} answered HTTP {exc.code}", url=self.url, status=exc.code) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise NodeUnreachable(f"GET {path} failed: {exc}", url=self.url) from exc
        if len(body) > MAX_BODY_BYTES:
            raise NodeUnreachable(f"GET {path}: answer larger than {MAX_BODY_BYTES} bytes", url=self.url)
        return body

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads(self.get("/v1/status"))
        except (ValueError, RecursionError) as exc:
            raise NodeUnreachable("status is not JSON", url=self.url) from exc
        if not isinstance(data, dict) or type(data.get("height")) is not int:
            raise NodeUnreachable("status lacks an integer height", url=self.url)
        claimed = data.get("node_id")
        # Only a label (alarms carry the URL too); anything but an identifier is not shown.
        self.node_id = claimed if isinstance(claimed, str) and IDENT_RE.match(claimed) else None
        return data

    def genesis(self) -> bytes:
        return self.get("/v1/genesis")

    def block_page(self, start: int, limit: int = PAGE_LIMIT) -> bytes:
        return self.get(f"/v1/blocks?from={start}&limit={limit}")

    def block(self, height: int) -> bytes:
        return self.get(f"/v1/blocks/{height}")
