"""WebSocket routes of the audit app (collected by config/routing.py)."""

from django.urls import URLPattern, URLResolver, path

from .consumers import ObserverConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/audit/elections/<int:election_id>/", ObserverConsumer.as_asgi()),
]
