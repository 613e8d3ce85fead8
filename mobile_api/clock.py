"""The mobile app's one clock seam: views and authentication ask here, tests move time here."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def get_now() -> datetime:
    return timezone.now()
