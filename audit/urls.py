"""URLs of the audit app (mounted by config/urls.py)."""

from django.urls import URLPattern, URLResolver

app_name = "audit"

urlpatterns: list[URLPattern | URLResolver] = []
