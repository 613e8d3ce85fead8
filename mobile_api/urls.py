"""URLs of the mobile_api app (mounted by config/urls.py)."""

from django.urls import URLPattern, URLResolver

app_name = "mobile_api"

urlpatterns: list[URLPattern | URLResolver] = []
