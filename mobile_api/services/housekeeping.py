"""Deleting what the mobile service no longer needs: expired challenges and device sessions.

Why: data minimisation. Once a challenge or session has expired it proves nothing and serves
no retry, but its timestamps would help anyone trying to correlate credential requests with
mints on the ledger by time. Nothing on the ledger or the roll depends on these rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..models import DeviceSession, OtpChallenge


@dataclass(frozen=True)
class Pruned:
    challenges: int
    sessions: int


def prune_expired(now: datetime, *, grace: timedelta = timedelta(minutes=10)) -> Pruned:
    """Delete challenges and sessions that expired more than ``grace`` ago."""
    cutoff = now - grace
    challenges, _ = OtpChallenge.objects.filter(expires_at__lt=cutoff).delete()
    sessions, _ = DeviceSession.objects.filter(expires_at__lt=cutoff).delete()
    return Pruned(challenges, sessions)
