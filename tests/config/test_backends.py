"""Round trips through the configured database and channel layer (PostgreSQL and Redis in CI)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_database_round_trip() -> None:
    user_model = get_user_model()
    user_model.objects.create_user(username="official", password="not-used-here")
    assert user_model.objects.filter(username="official").count() == 1


def test_channel_layer_round_trip() -> None:
    layer = get_channel_layer()
    assert layer is not None

    async def send_and_receive() -> dict[str, str]:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "tally.updated", "election": "e-1"})
        message: dict[str, str] = await layer.receive(channel)
        return message

    assert async_to_sync(send_and_receive)() == {"type": "tally.updated", "election": "e-1"}
