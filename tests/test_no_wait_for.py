"""No ``asyncio.wait_for`` in the project's code: on Python 3.11 it can drop a cancellation.

``wait_for`` runs the awaited coroutine in an inner task; if that task finishes just as the
outer one is cancelled, the result is returned and the cancellation is lost (CPython
gh-86296, fixed in 3.12). A node's consensus loop did exactly that and its shutdown waited
for ever (tests/ledger/node/test_shutdown.py, docs/campaign.md). ``asyncio.timeout`` keeps
the cancellation; every wait with a deadline uses it. This test keeps the pattern from
coming back while the project supports 3.11.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["ledger", "voting", "kiosk", "mobile_api", "audit", "communities", "publicnode", "verifier", "config",
           "clients"]
CALL = re.compile(r"\basyncio\.wait_for\(|\bfrom asyncio import [^\n]*\bwait_for\b")


def test_project_code_does_not_call_asyncio_wait_for() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for package in SOURCES for path in sorted((ROOT / package).rglob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if CALL.search(line)]
    assert not offenders, f"use asyncio.timeout instead of asyncio.wait_for (CPython gh-86296): {offenders}"
    assert (ROOT / "ledger" / "node" / "runtime.py").exists()  # the scan looked where the code is
