"""The election authority's RSA credential keys: a 0600 file per election, never in the database or logs."""

from __future__ import annotations

import logging
import stat
import threading
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import serializers
from django.apps import apps

from ledger.core import blindrsa
from mobile_api import credential_keys
from voting.models import Region
from voting.services.elections import schedule_election

from tests.voting.factories import make_election
from tests.voting.inprocess_ledger import InProcessTransport

from .harness import MobileElection

pytestmark = pytest.mark.django_db


def test_scheduling_stores_the_key_privately_and_puts_its_public_half_on_the_ledger(
    mobile: MobileElection, transport: InProcessTransport, mobile_test_settings: dict[str, Any],
) -> None:
    path = credential_keys.get_key_path(mobile.election.ledger_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    record = transport.query("vote", "election", {"election": mobile.election.ledger_id})
    assert record["credential_key"] == credential_keys.get_public_key_hex(mobile.election.ledger_id)
    assert blindrsa.load_public_key(bytes.fromhex(record["credential_key"])).key_size == 2048
    assert "mobile" in record["stations"]


def test_the_private_key_is_in_no_table_and_no_log(mobile: MobileElection, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = credential_keys.load_private_key(mobile.election.ledger_id)
    secret_hex = format(key.private_numbers().d, "x")[:64]
    pem_line = credential_keys.get_key_path(mobile.election.ledger_id).read_text().splitlines()[1]
    dump = "".join(serializers.serialize("json", model._base_manager.all()) for model in apps.get_models())
    assert secret_hex not in dump and pem_line not in dump and pem_line not in caplog.text


def test_concurrent_first_use_yields_one_key(mobile_test_settings: dict[str, Any]) -> None:
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(credential_keys.ensure_credential_key("e-race")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert list(credential_keys.get_key_path("e-race").parent.glob("*.tmp")) == []


def test_a_path_like_election_id_is_refused(mobile_test_settings: dict[str, Any]) -> None:
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(credential_keys.CredentialKeyUnavailable):
            credential_keys.get_key_path(bad)


def test_elections_without_mobile_voting_get_no_key_and_no_mobile_station(
    official: User, suwon: Region, transport: InProcessTransport, now: datetime,
) -> None:
    plain = make_election(official, suwon, now)
    schedule_election(official, plain, now)
    record = transport.query("vote", "election", {"election": plain.ledger_id})
    assert "credential_key" not in record and record["stations"] == []
    assert not credential_keys.get_key_path(plain.ledger_id).exists()
