"""URLs of the kiosk app (mounted by config/urls.py)."""

from django.urls import URLPattern, URLResolver

app_name = "kiosk"

urlpatterns: list[URLPattern | URLResolver] = []
