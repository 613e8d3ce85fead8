"""docs/operations.md stays true: every environment variable the code reads is in its table, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from tests.deploy.envvars import read_env_var_names
from tests.deploy.support import read_env_file

DOC = Path(settings.BASE_DIR) / "docs" / "operations.md"
ENV_DIR = Path(settings.BASE_DIR) / "deploy" / "env"
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", re.MULTILINE)


def documented_variables() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 3. Environment variables"):]
    section = section[:section.index("\n## ", 1)]
    return set(ROW.findall(section))


def test_every_environment_variable_read_in_code_is_documented() -> None:
    read = read_env_var_names()
    assert "DATABASE_URL" in read and "LEDGER_NODE_URLS" in read  # the scanner itself works
    missing = {name: files for name, files in read.items() if name not in documented_variables()}
    assert not missing, f"add these to the table in docs/operations.md section 3: {missing}"


def test_documented_variables_are_all_read_somewhere() -> None:
    stale = documented_variables() - set(read_env_var_names())
    assert not stale, f"docs/operations.md documents variables no code reads: {sorted(stale)}"


def test_example_env_files_use_only_documented_variables() -> None:
    documented = documented_variables()
    for path in sorted(ENV_DIR.glob("*.env.example")):
        unknown = set(read_env_file(path)) - documented
        assert not unknown, f"{path.name} sets undocumented variables {sorted(unknown)}"
