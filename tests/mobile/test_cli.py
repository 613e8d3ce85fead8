"""The reference client's command line against a live server, reading the code from the file SMS backend."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.voting.inprocess_ledger import InProcessTransport

from .harness import MobileElection

CLIENT = Path(django_settings.BASE_DIR) / "clients" / "evote_mobile.py"
ALLOWED_IMPORTS = frozenset(sys.stdlib_module_names) | {"__future__", "cryptography"}


def test_the_client_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(CLIENT.read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m.split(".")[0] for m in modules} <= ALLOWED_IMPORTS


@pytest.mark.django_db(transaction=True)
def test_the_command_line_votes_and_reports_the_tracking_code(
    live_server: Any, settings: Any, tmp_path: Path, mobile: MobileElection, transport: InProcessTransport,
) -> None:
    outbox = tmp_path / "sms-files"
    settings.MOBILE = {**settings.MOBILE, "SMS_BACKEND": "mobile_api.sms.backends.filebased.SmsBackend",
                       "SMS_FILE_PATH": outbox}
    voter = mobile.voters[0]
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO")}
    command = [sys.executable, str(CLIENT), "--server", live_server.url, "vote", "--election",
               mobile.election.ledger_id, "--phone", voter.phone, "--birth-date", voter.birth_date,
               "--candidate", "Lee Seoyeon", "--otp-file", str(outbox)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert transport.tx_status(receipt["tracking_code"]).status == "committed"
    tally = transport.query("vote", "tally", {"election": mobile.election.ledger_id})
    assert tally["candidates"] == {"c1": 0, "c2": 1}

    again = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert again.returncode == 2 and "credential_already_issued" in again.stderr
    status = subprocess.run([sys.executable, str(CLIENT), "--server", live_server.url, "status",
                             receipt["tracking_code"]], capture_output=True, text=True, timeout=60, env=env)
    assert json.loads(status.stdout)["status"] == "final"
