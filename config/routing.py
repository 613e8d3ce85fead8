"""WebSocket routes; apps append their consumers' paths here so config/asgi.py stays fixed."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
