"""Settings are read at import, so each case loads them in a fresh interpreter with its own env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_SECRET_KEY = "k" * 20 + "-production-secret-key-for-tests-only-0123456789"
SETTINGS_PREFIXES = ("DJANGO_", "SECURE_", "LEDGER_")
SETTINGS_NAMES = {
    "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL",
    "CONN_MAX_AGE", "REDIS_URL", "LOG_LEVEL",
}

PROBE = """
import json
import django
from django.conf import settings
from django.db import connection
django.setup()
database = settings.DATABASES["default"]
facts = {
    "env": settings.DJANGO_ENV,
    "debug": settings.DEBUG,
    "engine": database["ENGINE"],
    "name": str(database["NAME"]),
    "options": database.get("OPTIONS", {}),
    "conn_max_age": database.get("CONN_MAX_AGE"),
    "channel_layer": settings.CHANNEL_LAYERS["default"],
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
    "ledger": {"NODE_URLS": settings.LEDGER["NODE_URLS"], "HOME": str(settings.LEDGER["HOME"])},
}
if connection.vendor == "postgresql":
    from django.db.backends.postgresql.psycopg_any import is_psycopg3
    facts["psycopg3"] = is_psycopg3
if facts["engine"].endswith("sqlite3") and ":memory:" not in facts["name"]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        facts["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(facts, default=str))
"""


def run_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a child process with only the given settings variables set."""
    child_env = {
        key: value for key, value in os.environ.items()
        if key not in SETTINGS_NAMES and not key.startswith(SETTINGS_PREFIXES)
    }
    child_env.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=child_env,
        capture_output=True, text=True, timeout=120,
    )


def load_settings(**env: str) -> dict[str, Any]:
    """Like run_settings, but the import must succeed; returns the probed facts."""
    result = run_settings(**env)
    assert result.returncode == 0, result.stderr
    facts: dict[str, Any] = json.loads(result.stdout)
    return facts


def test_development_defaults_to_sqlite_in_wal_mode_and_in_memory_channels(tmp_path: Path) -> None:
    facts = load_settings()
    assert facts["env"] == "development"
    assert facts["debug"] is True
    assert facts["engine"] == "django.db.backends.sqlite3"
    assert facts["name"] == str(BASE_DIR / "var" / "web.sqlite3")
    assert facts["options"]["transaction_mode"] == "IMMEDIATE"
    assert facts["options"]["timeout"] == 30
    assert "journal_mode=WAL" in facts["options"]["init_command"]
    assert facts["channel_layer"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_sqlite_database_url_gets_wal_journal(tmp_path: Path) -> None:
    facts = load_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'node.sqlite3'}")
    assert facts["journal_mode"] == "wal"
    assert facts["options"]["transaction_mode"] == "IMMEDIATE"


def test_database_url_selects_postgresql_with_psycopg3() -> None:
    facts = load_settings(
        DATABASE_URL="postgres://voter:secret@db.example.org:5432/votes", CONN_MAX_AGE="120"
    )
    assert facts["engine"] == "django.db.backends.postgresql"
    assert facts["name"] == "votes"
    assert facts["conn_max_age"] == 120
    assert facts["psycopg3"] is True
    assert "init_command" not in facts["options"]


def test_redis_url_selects_redis_channel_layer() -> None:
    facts = load_settings(REDIS_URL="redis://cache.example.org:6379/2")
    assert facts["channel_layer"] == {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://cache.example.org:6379/2", "socket_timeout": None}]},
    }


def test_ledger_settings_come_from_environment() -> None:
    facts = load_settings(
        LEDGER_NODE_URLS="http://10.0.0.1:7001/, ,http://10.0.0.2:7001", LEDGER_HOME="var/other"
    )
    assert facts["ledger"]["NODE_URLS"] == ["http://10.0.0.1:7001", "http://10.0.0.2:7001"]
    assert facts["ledger"]["HOME"] == str(BASE_DIR / "var" / "other")


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param(None, id="missing"),
        pytest.param("django-insecure-development-only-key-never-use-in-production", id="default"),
        pytest.param("x" * 49, id="short"),
    ],
)
def test_production_refuses_weak_secret_key(secret_key: str | None) -> None:
    env = {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "vote.example.org"}
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    result = run_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_debug() -> None:
    result = run_settings(
        DJANGO_ENV="production", SECRET_KEY=GOOD_SECRET_KEY,
        ALLOWED_HOSTS="vote.example.org", DEBUG="true",
    )
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_refuses_empty_allowed_hosts() -> None:
    result = run_settings(DJANGO_ENV="production", SECRET_KEY=GOOD_SECRET_KEY)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_starts_with_complete_configuration() -> None:
    facts = load_settings(
        DJANGO_ENV="production", SECRET_KEY=GOOD_SECRET_KEY, ALLOWED_HOSTS="vote.example.org"
    )
    assert facts["debug"] is False
    assert facts["ssl_redirect"] is True
    assert facts["session_cookie_secure"] is True
    assert facts["csrf_cookie_secure"] is True


@pytest.mark.parametrize(
    ("variable", "extra"),
    [
        ("DEBUG", {}),
        ("DJANGO_ENV", {}),
        ("CONN_MAX_AGE", {"DATABASE_URL": "postgres://voter@db.example.org/votes"}),
    ],
)
def test_malformed_values_are_rejected_with_the_variable_name(
    variable: str, extra: dict[str, str]
) -> None:
    result = run_settings(**{variable: "flase"}, **extra)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr
