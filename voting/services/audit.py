"""Appending to the officials' audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from ..models import Election, OfficialAction


def record_action(
    actor: AbstractBaseUser, action: str, now: datetime, *, election: Election | None = None, **detail: Any
) -> OfficialAction:
    """Append one audit record; detail must hold public facts only (ids, counts, tx ids), never PII or keys."""
    return OfficialAction.objects.create(election=election, actor=actor, action=action, detail=detail, created_at=now)
