"""Which environment variables the code reads, found by scanning the source (for the docs test and clean envs)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

# ENV.get("X"), env_bool("X", …), os.environ.get("X"), os.getenv("X"), os.environ["X"], setdefault("X", …)
READ_PATTERN = re.compile(
    r"""(?:\bENV\.get|\benv_(?:bool|int|list)|os\.environ\.get|os\.getenv|os\.environ\.setdefault)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|\b(?:ENV|os\.environ)\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
# Application code an operator deploys; tests, benchmarks and the bootstrap script set their own.
SCANNED = ("config", "ledger", "voting", "kiosk", "mobile_api", "audit", "communities", "publicnode", "verifier",
           "manage.py")


def scanned_files() -> list[Path]:
    base = Path(settings.BASE_DIR)
    files: list[Path] = []
    for name in SCANNED:
        path = base / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py")) if path.is_dir() else []
    return files


def read_env_var_names() -> dict[str, list[str]]:
    """Variable name -> files (relative) that read it."""
    base = Path(settings.BASE_DIR)
    found: dict[str, list[str]] = {}
    for path in scanned_files():
        for match in READ_PATTERN.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1) or match.group(2)
            found.setdefault(name, []).append(str(path.relative_to(base)))
    return found
