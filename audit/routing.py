"""WebSocket routes of the audit app (collected by config/routing.py)."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
