"""URLs of the ledger web views (mounted at /ledger/)."""

from django.urls import path

from . import views

app_name = "ledger"
urlpatterns = [
    path("status/", views.network_status, name="status"),
]
