"""WebSocket routes of the kiosk app (collected by config/routing.py)."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
