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

from clients.evote_mobile import ClientError, MobileVotingClient
from mobile_api import sms
from mobile_api.models import DeviceSession, OtpChallenge
from voting.models import VoterRollEntry

from tests.voting.inprocess_ledger import InProcessTransport

from .harness import DjangoTransport, MobileElection, make_client, read_last_code

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

    typo = subprocess.run([*command[:-4], "--candidate", "yes", *command[-2:]], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)
    assert typo.returncode == 2 and "wrong_candidate" in typo.stderr and "c1, c2" in typo.stderr
    assert not list(outbox.glob("*.sms")) and not OtpChallenge.objects.exists()  # no code was even requested
    assert VoterRollEntry.objects.get(pk=voter.entry_id).status == "eligible"
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


@pytest.mark.django_db
@pytest.mark.parametrize("candidates", [["yes"], ["c1", "c2"], [], ["c1", "c9"]])
def test_a_wrong_ballot_fails_before_any_code_is_sent_and_nothing_is_issued(
    mobile: MobileElection, transport: InProcessTransport, candidates: list[str],
) -> None:
    """The bug: ``--candidate yes`` was checked only after the credential was issued, burning it."""
    client = make_client()
    voter = mobile.voters[0]
    with pytest.raises(ClientError) as refused:
        client.vote_flow(mobile.election.ledger_id, voter.phone, voter.birth_date, candidates,
                         lambda: read_last_code(voter.phone))
    assert refused.value.code == "wrong_candidate"
    assert isinstance(client.transport, DjangoTransport)
    assert [(method, path) for method, path, _ in client.transport.calls] == [("GET", "/api/v1/mobile/elections/")]
    assert sms.outbox == [] and not OtpChallenge.objects.exists() and not DeviceSession.objects.exists()
    assert VoterRollEntry.objects.get(pk=voter.entry_id).status == "eligible"
    assert transport.query("vote", "tally", {"election": mobile.election.ledger_id})["stations"]["mobile"]["minted"] == 0


class LosesFirstAnswer:
    """A transport whose first answer to ``endpoint`` is lost after the server handled the request."""

    def __init__(self, inner: DjangoTransport, endpoint: str) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self.bodies: list[Any] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
        answer = self.inner(method, path, body, headers)
        if path.endswith(self.endpoint):
            self.bodies.append(body)
            if len(self.bodies) == 1:
                raise ClientError("network_error", "connection reset")
        return answer


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["mint", "vote"])
def test_the_client_resends_the_same_signed_transaction_after_a_lost_answer(
    mobile: MobileElection, transport: InProcessTransport, endpoint: str,
) -> None:
    flaky = LosesFirstAnswer(DjangoTransport(), endpoint)
    client = MobileVotingClient(transport=flaky)
    voter = mobile.voters[0]
    receipt = client.vote_flow(mobile.election.ledger_id, voter.phone, voter.birth_date, ["c1"],
                               lambda: read_last_code(voter.phone), backoff_s=0)
    assert len(flaky.bodies) == 2 and flaky.bodies[0] == flaky.bodies[1]  # the same bytes, resent once
    assert transport.tx_status(receipt.vote_tracking_code).status == "committed"
    tally = transport.query("vote", "tally", {"election": mobile.election.ledger_id})
    assert tally["candidates"] == {"c1": 1, "c2": 0} and tally["stations"]["mobile"]["spent"] == 1
