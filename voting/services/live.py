"""Pushing turnout changes to the dashboards watching an election (Channels groups)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def get_turnout_group(election_id: int) -> str:
    return f"voting.turnout.{election_id}"


def announce_turnout(election_id: int) -> None:
    """Tell every connected turnout consumer of the election to send a fresh snapshot."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(get_turnout_group(election_id), {"type": "turnout.changed"})
    except Exception:  # a dashboard must never break a check-in; the page also refreshes periodically
        logger.exception("could not announce turnout for election %s", election_id)
