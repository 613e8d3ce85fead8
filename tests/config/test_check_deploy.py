"""``manage.py check --deploy`` is clean with the production environment exactly as docs/operations.md gives it.

The environment is read from the guide's own shell block (section 2, "Running the web app"),
with every ``…`` placeholder replaced by a fresh random secret, so the guide and the settings
cannot drift apart: a variable the guide forgets shows up here as a deploy warning.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
EXPORT = re.compile(r"^export (?P<name>[A-Z][A-Z0-9_]*)=(?P<value>\S*)", re.M)


def get_documented_environment() -> dict[str, str]:
    guide = (BASE_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    section = guide.split("## 2. Running the web app", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    environment = {}
    for match in EXPORT.finditer(block):
        value = match["value"]
        while "…" in value:
            value = value.replace("…", secrets.token_urlsafe(64), 1)
        environment[match["name"]] = value
    return environment


def run_check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items()
             if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env={**clean, **environment}, capture_output=True, text=True, timeout=120,
    )


def test_the_guide_sets_the_production_essentials() -> None:
    environment = get_documented_environment()
    for name in ("DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_HSTS_SECONDS", "VOTING_ROLL_HMAC_KEY"):
        assert name in environment, name
    assert environment["DJANGO_ENV"] == "production"


def test_check_deploy_is_clean_with_the_documented_production_environment() -> None:
    result = run_check_deploy(get_documented_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_warns_when_hsts_is_left_out() -> None:
    """The check is not vacuous: dropping one documented variable brings its warning back."""
    environment = get_documented_environment()
    del environment["SECURE_HSTS_SECONDS"]
    result = run_check_deploy(environment)
    assert result.returncode != 0 and "security.W004" in result.stdout + result.stderr
