"""URLs of the audit app (mounted at the site root by config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "audit"

urlpatterns: list[URLPattern | URLResolver] = [
    path("audit/", views.observed_elections, name="election_list"),
    path("audit/elections/<int:election_id>/", views.observer_dashboard, name="dashboard"),
    path("audit/elections/<int:election_id>/snapshot.json", views.snapshot_json, name="snapshot"),
]
