"""The audit app's settings (``settings.AUDIT``), read into a frozen object.

Read on every call rather than cached: the values are two numbers, and tests and the demo
change them with ``override_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class AuditSettings:
    """How far behind a node may be before it is flagged, and how often the live view polls the nodes."""

    lag_threshold_blocks: int = 3
    refresh_seconds: float = 3.0


def get_audit_settings() -> AuditSettings:
    raw = getattr(settings, "AUDIT", {}) or {}
    return AuditSettings(
        lag_threshold_blocks=max(0, int(raw.get("LAG_THRESHOLD_BLOCKS", 3))),
        refresh_seconds=max(0.2, float(raw.get("REFRESH_SECONDS", 3.0))),
    )
