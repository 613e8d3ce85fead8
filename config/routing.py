"""WebSocket routes; apps append their consumers' paths here so config/asgi.py stays fixed."""

from django.urls import URLPattern, URLResolver

from voting.routing import websocket_urlpatterns as voting_websockets

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    *voting_websockets,
]
