"""URLs of the audit app (mounted at the site root by config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from . import official_log_views, views

app_name = "audit"

urlpatterns: list[URLPattern | URLResolver] = [
    path("audit/", views.observed_elections, name="election_list"),
    path("audit/elections/<int:election_id>/", views.observer_dashboard, name="dashboard"),
    path("audit/elections/<int:election_id>/snapshot.json", views.snapshot_json, name="snapshot"),
    path("audit/officials-log/", official_log_views.official_log, name="official_log"),
    path("audit/officials-log.jsonl", official_log_views.official_log_export, name="official_log_export"),
]
