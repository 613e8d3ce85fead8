"""Observers read the officials' audit log: paginated, filtered by election, its verification, the JSON Lines export."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from voting import audit_log
from voting.models import Election, ElectionRole, Region
from voting.services.audit import record_action

from .factories import make_election

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def audit_key(settings: Any, tmp_path: Path) -> None:
    settings.VOTING = {**settings.VOTING, "AUDIT_LOG_KEY_FILE": tmp_path / "official-log.pem"}
    settings.LEDGER = {**settings.LEDGER, "NODE_URLS": ["http://127.0.0.1:9"]}  # nothing listens: anchors unchecked


@pytest.fixture
def observer(election: Election, official: User, now: datetime) -> User:
    user = User.objects.create_user("observer1", password="x" * 20)
    ElectionRole.objects.create(election=election, user=user, role=ElectionRole.Role.OBSERVER, granted_by=official,
                                granted_at=now)
    return user


def signed_in(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_observer_sees_the_log_verified_with_the_public_key(observer: User, election: Election, official: User,
                                                             now: datetime) -> None:
    record_action(official, "election_updated", now, election=election, title="second title")
    response = signed_in(observer).get(reverse("audit:official_log"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Intact" in page and "2 records: chain, hashes and signatures verified." in page
    assert audit_log.get_public_key_hex() in page and "Election edited" in page and "official" in page
    korean = signed_in(observer).get(reverse("audit:official_log"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "변조 없음" in korean and "기록 2건: 연결, 해시, 서명을 모두 확인했습니다." in korean


def test_the_filter_shows_one_election_and_pages_hold_fifty(observer: User, election: Election, official: User,
                                                            suwon: Region, now: datetime) -> None:
    other = make_election(official, suwon, now, title="Another election")
    for index in range(60):
        record_action(official, "election_updated", now, election=election, title=f"t{index}")
    client = signed_in(observer)
    first = client.get(reverse("audit:official_log"), {"election": election.pk}).content.decode()
    assert "Page 1 of 2" in first and first.count("<tr>") == 51  # header + 50 records
    second = client.get(reverse("audit:official_log"), {"election": election.pk, "page": 2}).content.decode()
    assert second.count("<tr>") == 1 + 11  # 61 records of this election in all
    assert client.get(reverse("audit:official_log"), {"election": other.pk}).status_code == 404  # not observed


def test_outsiders_and_anonymous_users_do_not_see_the_log(outsider: User, election: Election) -> None:
    assert signed_in(outsider).get(reverse("audit:official_log")).status_code == 404
    assert signed_in(outsider).get(reverse("audit:official_log_export")).status_code == 404
    response = Client().get(reverse("audit:official_log"))
    assert response.status_code == 302 and reverse("voting:sign_in") in response["Location"]


def test_the_export_verifies_and_names_the_key(observer: User, election: Election, official: User,
                                               now: datetime) -> None:
    record_action(official, "election_updated", now, election=election, title="second")
    response = signed_in(observer).get(reverse("audit:official_log_export"))
    assert response["Content-Disposition"] == 'attachment; filename="officials-log.jsonl"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    header = json.loads(lines[0])
    assert header["public_key"] == audit_log.get_public_key_hex() and header["head_seq"] == 1
    public_key, head, records = audit_log.parse_export(lines)
    assert audit_log.verify_chain(records, public_key, head=head).ok


def test_a_tampered_log_shows_the_mismatch_and_the_first_bad_record(observer: User, election: Election,
                                                                    official: User, now: datetime) -> None:
    for index in range(3):
        record_action(official, "election_updated", now, election=election, title=f"t{index}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE voting_officialaction SET body = REPLACE(body, 't1', 'tX') WHERE seq = 2")
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")
    page = signed_in(observer).get(reverse("audit:official_log")).content.decode()
    assert "Mismatch" in page and "The first bad record is number 2." in page and "hash_mismatch" in page


def test_the_verification_is_reused_until_the_head_moves(observer: User, election: Election, official: User,
                                                          now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page load verifies every signature; the next loads reuse it until a record is added (or a minute passes)."""
    from django.core.cache import cache

    cache.clear()
    record_action(official, "election_updated", now, election=election, title="second title")
    runs = []
    real = audit_log.verify_chain
    monkeypatch.setattr(audit_log, "verify_chain", lambda *a, **k: runs.append(1) or real(*a, **k))
    client = signed_in(observer)
    for _ in range(3):
        assert "2 records: chain" in client.get(reverse("audit:official_log")).content.decode()
    assert len(runs) == 1
    record_action(official, "election_updated", now, election=election, title="third title")
    assert "3 records: chain" in client.get(reverse("audit:official_log")).content.decode()
    assert len(runs) == 2
    with connection.cursor() as cursor:  # a change behind the trigger's back, head unchanged: seen once the entry expires
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE voting_officialaction SET body = REPLACE(body, 'third', 'forged') WHERE seq = 2")
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")
    cache.clear()  # what VERIFICATION_CACHE_S does on its own
    assert "Mismatch" in client.get(reverse("audit:official_log")).content.decode()
