"""The ledger app's settings (``settings.LEDGER``), read once into a frozen object."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


@dataclass(frozen=True)
class LedgerSettings:
    """Deployment configuration of the web app's view of the ledger (not protocol constants)."""

    node_urls: tuple[str, ...]
    home: Path
    request_timeout_s: float = 5.0


def is_node_url(url: Any) -> bool:
    """True for an absolute http(s) base URL without query or fragment."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.query and not parts.fragment


@cache
def get_ledger_settings() -> LedgerSettings:
    raw = getattr(settings, "LEDGER", {})
    return LedgerSettings(
        node_urls=tuple(str(url).rstrip("/") for url in raw.get("NODE_URLS", ())),
        home=Path(raw.get("HOME", "var/node")),
        request_timeout_s=float(raw.get("REQUEST_TIMEOUT_S", 5.0)),
    )
