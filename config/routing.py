"""WebSocket routes; apps append their consumers' paths here so config/asgi.py stays fixed."""

from django.urls import URLPattern, URLResolver

from audit.routing import websocket_urlpatterns as audit_websockets
from communities.routing import websocket_urlpatterns as community_websockets
from kiosk.routing import websocket_urlpatterns as kiosk_websockets
from mobile_api.routing import websocket_urlpatterns as mobile_websockets
from voting.routing import websocket_urlpatterns as voting_websockets

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    *voting_websockets,
    *kiosk_websockets,
    *mobile_websockets,
    *audit_websockets,
    *community_websockets,
]
