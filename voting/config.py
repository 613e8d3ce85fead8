"""The voting app's settings (``settings.VOTING`` and the authority key path), read once into a frozen object."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class VotingSettings:
    roll_hmac_key: bytes
    roll_hmac_key_is_derived: bool
    issuance_workers: int
    ledger_commit_timeout_s: float
    authority_key_file: Path


def derive_development_key(secret_key: str) -> bytes:
    """Development fallback: a roll key derived from SECRET_KEY (production sets its own, voting.E001)."""
    return hmac.new(secret_key.encode(), b"voting-roll-hmac-key-v1", hashlib.sha256).digest()


@cache
def get_voting_settings() -> VotingSettings:
    raw: dict[str, Any] = getattr(settings, "VOTING", {})
    configured = str(raw.get("ROLL_HMAC_KEY", "") or "")
    workers = int(raw.get("ISSUANCE_WORKERS", 0) or 0) or (os.cpu_count() or 1)
    ledger: dict[str, Any] = getattr(settings, "LEDGER", {})
    return VotingSettings(
        roll_hmac_key=configured.encode() if configured else derive_development_key(settings.SECRET_KEY),
        roll_hmac_key_is_derived=not configured,
        issuance_workers=max(1, workers),
        ledger_commit_timeout_s=float(raw.get("LEDGER_COMMIT_TIMEOUT_S", 30)),
        authority_key_file=Path(ledger.get("AUTHORITY_KEY_FILE", "var/localnet/authority.pem")),
    )


def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in {"VOTING", "LEDGER", "SECRET_KEY"}:
        get_voting_settings.cache_clear()


setting_changed.connect(_forget_settings)
