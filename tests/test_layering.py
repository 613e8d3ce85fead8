"""ledger/core stays pure: standard library, cryptography and ecdsa only, never Django.

Observers run the core as a standalone verifier, so it must import nothing from the web
stack or from the rest of the project. Every import statement is checked, including
imports inside functions, relative imports (resolved against the file's package) and
``importlib.import_module("...")`` / ``__import__("...")`` calls with a literal name.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ledger" / "core"
CORE_PACKAGE = "ledger.core"
ALLOWED_THIRD_PARTY = frozenset({"cryptography", "ecdsa"})
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def _package_of(path: Path) -> list[str]:
    """The package a relative import starts from: the file's directory (also for __init__.py)."""
    return list(path.relative_to(ROOT).parent.parts)


def _resolve(path: Path, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    package = _package_of(path)
    if level - 1 > len(package):
        return "<relative import above the project root>"
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def is_allowed(module: str) -> bool:
    top = module.split(".")[0]
    if module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + "."):
        return True
    return top in STDLIB or top in ALLOWED_THIRD_PARTY


def imported_modules(path: Path, source: str) -> list[tuple[int, str]]:
    """Every (line, absolute module name) the source imports."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node.module, node.level)
            if node.module is None:  # "from . import x": each name may be a module
                found.extend((node.lineno, f"{base}.{alias.name}" if base else alias.name) for alias in node.names)
            else:
                found.append((node.lineno, base))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def forbidden_imports(path: Path, source: str) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line}: {module}" for line, module in imported_modules(path, source)
            if not is_allowed(module)]


CORE_FILES = sorted(CORE.rglob("*.py"))


def test_the_core_has_python_files() -> None:
    names = {p.relative_to(CORE).as_posix() for p in CORE_FILES}
    assert {"encoding.py", "crypto.py", "machine.py", "verify.py", "contracts/vote.py"} <= names


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_module_imports_only_stdlib_cryptography_and_ecdsa(path: Path) -> None:
    assert forbidden_imports(path, path.read_text(encoding="utf-8")) == []


SAMPLE = CORE / "contracts" / "sample.py"
CHECKER_CASES = [
    ("import django", False),
    ("from django.db import models", False),
    ("import rest_framework.views", False),
    ("from channels.layers import get_channel_layer", False),
    ("def f():\n    import django.conf", False),
    ("from ledger import models", False),
    ("from ledger.models import Block", False),
    ("from voting.services import cast_vote", False),
    ("from ...models import Block", False),  # ledger/core/contracts -> ledger.models
    ("from ... import checks", False),  # ledger.checks
    ("from .... import config", False),  # the project root package
    ("import importlib\nimportlib.import_module('django.conf')", False),
    ("__import__('rest_framework')", False),
    ("import requests", False),
    ("import json, hashlib", True),
    ("from typing import Any", True),
    ("from __future__ import annotations", True),
    ("from cryptography.hazmat.primitives.asymmetric import ec", True),
    ("import ecdsa", True),
    ("from .. import crypto", True),  # ledger.core.crypto
    ("from ..block import Vote", True),
    ("from . import vote", True),
    ("from ledger.core.encoding import encode", True),
]


@pytest.mark.parametrize(("source", "allowed"), CHECKER_CASES)
def test_layering_checker_flags_every_kind_of_forbidden_import(source: str, allowed: bool) -> None:
    assert (forbidden_imports(SAMPLE, source) == []) is allowed


# --- the standalone verifier: standard library, cryptography and ecdsa, and itself only ----------

VERIFIER = ROOT / "verifier"
VERIFIER_FILES = sorted(VERIFIER.rglob("*.py"))


def verifier_forbidden_imports(path: Path, source: str) -> list[str]:
    """Imports of a verifier module that reach outside the standard library, the crypto packages and verifier/."""
    def allowed(module: str) -> bool:
        top = module.split(".")[0]
        return top == "verifier" or top in STDLIB or top in ALLOWED_THIRD_PARTY

    return [f"{path.relative_to(ROOT)}:{line}: {module}" for line, module in imported_modules(path, source)
            if not allowed(module)]


def test_the_verifier_has_python_files() -> None:
    names = {p.relative_to(VERIFIER).as_posix() for p in VERIFIER_FILES}
    assert {"__main__.py", "canonical.py", "signatures.py", "contracts.py", "engine.py"} <= names


@pytest.mark.parametrize("path", VERIFIER_FILES, ids=lambda p: p.relative_to(VERIFIER).as_posix())
def test_verifier_module_imports_nothing_from_the_project(path: Path) -> None:
    assert verifier_forbidden_imports(path, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("source", "allowed"), [
    ("from ledger.core.encoding import encode", False),
    ("import ledger", False),
    ("from django.conf import settings", False),
    ("from .. import ledger", False),  # verifier/.. is the project root
    ("import tests.ledger", False),
    ("from . import canonical", True),
    ("from .errors import Invalid", True),
    ("import hashlib, json", True),
    ("from cryptography.hazmat.primitives.asymmetric import ec", True),
    ("from ecdsa import NIST256p", True),
])
def test_verifier_layering_checker_flags_project_imports(source: str, allowed: bool) -> None:
    assert (verifier_forbidden_imports(VERIFIER / "sample.py", source) == []) is allowed


# --- the public node: standard library, ledger.core and itself only (no Django, no database) ----------

PUBLICNODE = ROOT / "publicnode"
PUBLICNODE_FILES = sorted(PUBLICNODE.rglob("*.py"))


def publicnode_forbidden_imports(path: Path, source: str) -> list[str]:
    """Imports of a publicnode module that reach outside the standard library, ledger.core and publicnode/."""
    def allowed(module: str) -> bool:
        top = module.split(".")[0]
        in_core = module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + ".")
        return top == "publicnode" or in_core or top in STDLIB

    return [f"{path.relative_to(ROOT)}:{line}: {module}" for line, module in imported_modules(path, source)
            if not allowed(module)]


def test_the_public_node_has_python_files() -> None:
    names = {p.relative_to(PUBLICNODE).as_posix() for p in PUBLICNODE_FILES}
    assert {"__main__.py", "follower.py", "client.py", "dashboard.py"} <= names


@pytest.mark.parametrize("path", PUBLICNODE_FILES, ids=lambda p: p.relative_to(PUBLICNODE).as_posix())
def test_public_node_module_imports_only_stdlib_and_the_ledger_core(path: Path) -> None:
    assert publicnode_forbidden_imports(path, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("source", "allowed"), [
    ("from django.conf import settings", False),
    ("from ledger.client import NodeClient", False),  # urllib, but it reads Django settings
    ("from ledger import models", False),
    ("import ledger", False),
    ("from .. import ledger", False),  # publicnode/.. is the project root
    ("import aiohttp", False),
    ("from ledger.core.block import Block", True),
    ("from .entries import read_entry", True),
    ("import urllib.request, http.server", True),
])
def test_public_node_layering_checker_flags_project_imports(source: str, allowed: bool) -> None:
    assert (publicnode_forbidden_imports(PUBLICNODE / "sample.py", source) == []) is allowed
