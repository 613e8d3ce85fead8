"""System checks for the ledger settings (ids ledger.E001...)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .config import is_node_url


@register()
def check_ledger_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """LEDGER["NODE_URLS"] must be a non-empty list of http(s) base URLs."""
    raw = getattr(settings, "LEDGER", None)
    if not isinstance(raw, dict):
        return [Error("settings.LEDGER must be a dict.", id="ledger.E001")]
    urls = raw.get("NODE_URLS")
    if not isinstance(urls, (list, tuple)) or not urls:
        return [Error("LEDGER['NODE_URLS'] must list at least one node URL.",
                      hint="Set LEDGER_NODE_URLS=http://127.0.0.1:7001,...", id="ledger.E002")]
    bad = [url for url in urls if not is_node_url(url)]
    if bad:
        return [Error(f"LEDGER['NODE_URLS'] has entries that are not http(s) base URLs: {bad!r}.",
                      hint="Use e.g. http://127.0.0.1:7001 (no path query or fragment).", id="ledger.E003")]
    return []
