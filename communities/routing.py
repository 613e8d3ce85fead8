"""WebSocket routes of the communities app (collected by config/routing.py)."""

from django.urls import URLPattern, URLResolver, path

from .consumers import PollStatsConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/communities/polls/<str:poll>/stats/", PollStatsConsumer.as_asgi()),
]
