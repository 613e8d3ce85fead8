"""WebSocket routes of the voting app (included by config/routing.py)."""

from django.urls import path

from .consumers import TurnoutConsumer

websocket_urlpatterns = [
    path("ws/elections/<int:election_id>/turnout/", TurnoutConsumer.as_asgi()),
]
