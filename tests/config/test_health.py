"""``/health/``: 200 with the database up, 503 without it; ledger reachability reported, never fatal."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import OperationalError
from django.test import Client, override_settings


@pytest.mark.django_db
@override_settings(LEDGER={**settings.LEDGER, "NODE_URLS": ["http://127.0.0.1:9"]})  # port 9: nothing listens
def test_health_reports_the_database_and_the_ledger_nodes() -> None:
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok",
                               "ledger_nodes": {"configured": 1, "reachable": 0}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_is_503_when_the_database_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_cursor(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    monkeypatch.setattr("config.health._ledger_reachable", lambda: {"configured": 0, "reachable": 0})
    response = Client().get("/health/")
    assert response.status_code == 503 and response.json()["database"] == "unavailable"


def test_health_refuses_other_methods(db: None) -> None:
    assert Client().post("/health/").status_code == 405
