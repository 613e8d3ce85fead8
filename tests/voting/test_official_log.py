"""The officials' audit log: every official action appends a signed, chained record; any tampering is found.

Tampering is done the way a hostile official with database access would: plain SQL on the
table (on PostgreSQL with triggers switched off first, as a database superuser can).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from ledger.core.crypto import PrivateKey
from voting import audit_log, signin
from voting.audit_log_anchor import anchor_head, get_ledger_anchors, verify_official_log
from voting.ledger_gateway import get_gateway
from voting.models import Election, OfficialAction, OfficialLogHead, PollingStation, Region
from voting.services.audit import record_action
from voting.services.checkin import check_in_voter
from voting.services.elections import (
    close_election,
    open_election,
    publish_results,
    schedule_election,
    tally_election,
    update_election,
)
from voting.services.roll import clear_roll, import_roll
from voting.services.stations import create_station, grant_role, register_kiosk, revoke_kiosk
from voting.services.tokens import issue_tokens

from .factories import make_draft, roll_rows, to_csv
from .inprocess_ledger import InProcessTransport

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def audit_key(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """A fresh audit-log key per test, in a temporary directory (never the repository's var/)."""
    path = tmp_path / "keys" / "official-log.pem"
    settings.VOTING = {**settings.VOTING, "AUDIT_LOG_KEY_FILE": path}
    yield path


def tamper(sql: str, params: list[Any]) -> None:
    """Run ``sql`` as the table's owner would, past the PostgreSQL append-only trigger (as its superuser may)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # a superuser skips ordinary triggers
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def write_records(official: User, election: Election, now: datetime, count: int) -> None:
    for index in range(count):
        record_action(official, "election_updated", now + timedelta(seconds=index), election=election,
                      title=f"edit {index}", early=index % 2 == 0)


def check(**options: Any) -> audit_log.Verification:
    return verify_official_log(check_ledger=False, **options)


# --- appending ---------------------------------------------------------------------------------


def test_records_form_a_signed_chain_with_the_actor_and_role(official: User, election: Election, now: datetime,
                                                             audit_key: Path) -> None:
    write_records(official, election, now, 3)
    records = list(OfficialAction.objects.order_by("seq"))
    assert [r.seq for r in records] == [0, 1, 2, 3]  # 0 is election_created
    assert records[0].prev_hash == audit_log.GENESIS_PREV
    assert all(b.prev_hash == a.record_hash for a, b in zip(records, records[1:]))
    body = json.loads(records[1].body)
    assert body["actor"] == {"id": official.pk, "username": "official", "role": "official"}
    assert body["election"] == {"id": election.pk, "ledger_id": election.ledger_id}
    assert body["detail"] == {"title": "edit 0", "early": True}
    key = PrivateKey.from_pem(audit_key.read_bytes())
    assert audit_key.stat().st_mode & 0o777 == 0o600
    assert audit_log.compute_key_fingerprint(key.public_key)
    assert OfficialLogHead.objects.get(pk=1).record_hash == records[-1].record_hash
    result = check()
    assert result.ok and result.records == 4 and result.head_seq == 3, result.to_dict()


def test_a_rolled_back_action_leaves_no_record_and_no_gap(official: User, election: Election, now: datetime) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        record_action(official, "election_updated", now, election=election, title="rolled back")
        raise RuntimeError("the action failed after auditing")
    record_action(official, "election_updated", now, election=election, title="kept")
    assert list(OfficialAction.objects.order_by("seq").values_list("seq", flat=True)) == [0, 1]
    assert check().ok


def test_rows_written_before_the_chain_are_sealed_by_the_next_append(official: User, election: Election,
                                                                     now: datetime) -> None:
    tamper("DELETE FROM voting_officialloghead", [])
    tamper("UPDATE voting_officialaction SET seq = NULL, prev_hash = '', body = '', record_hash = '', signature = ''", [])
    result = check()
    assert result.problem == "unsealed_record"
    record_action(official, "election_updated", now, election=election, title="after the upgrade")
    assert list(OfficialAction.objects.order_by("seq").values_list("action", flat=True)) == [
        "election_created", "election_updated"]
    assert check().ok


# --- every official action records -----------------------------------------------------------------


def test_every_official_action_of_an_election_is_in_the_signed_log(
    official: User, election: Election, station: PollingStation, suwon: Region, now: datetime,
    transport: InProcessTransport,
) -> None:
    update_election(official, election, make_draft(suwon, now, title="Edited title"), now)
    create_station(official, code="suwon-9", name="Station nine", region=suwon, now=now)
    User.objects.create_user("observer1", password="x" * 20)
    grant_role(official, election, username="observer1", role="observer", now=now)
    schedule_election(official, election, now)
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(3, [station.code])), now=now)
    registration = register_kiosk(official, election, station, label="booth-A", now=now)
    issue_tokens(official, election, station, now=now)
    open_election(official, election, now)
    check_in_voter(official, election, station, election.roll.first().pk, now=now)
    revoke_kiosk(official, election, registration.kiosk, now)
    close_election(official, election, now, confirm_early=True)
    tally_election(official, election, now)
    publish_results(official, election, now)
    actions = list(OfficialAction.objects.order_by("seq").values_list("action", flat=True))
    for expected in ("election_created", "election_updated", "station_created", "role_granted", "election_schedule",
                     "roll_imported", "kiosk_registered", "tokens_issued", "election_open", "voter_checked_in",
                     "kiosk_revoked", "election_close", "election_tally", "election_publish"):
        assert expected in actions, expected
    # Nothing secret went into a body: no kiosk credential, no roll name.
    bodies = "".join(OfficialAction.objects.values_list("body", flat=True))
    assert registration.credential not in bodies and "유권자" not in bodies
    assert check().ok


def test_roll_removal_is_recorded(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(2, [station.code])), now=now)
    clear_roll(official, election, now)
    assert OfficialAction.objects.filter(action="roll_cleared").exists() and check().ok


def test_staff_lockout_and_unlock_are_recorded(official: User, now: datetime) -> None:
    from django.core.cache import cache

    cache.clear()
    admin = User.objects.create_superuser("root", password="y" * 20)
    client = Client()
    for _ in range(signin.ACCOUNT_FAILURES):
        client.post(reverse("voting:sign_in"), {"username": "official", "password": "wrong"}, REMOTE_ADDR="198.51.100.2")
    signin.clear_lock(username="official", actor=admin)
    locked = OfficialAction.objects.get(action="staff_locked_out")
    unlocked = OfficialAction.objects.get(action="staff_unlocked")
    assert locked.actor == official and "198.51.100.2" not in locked.body
    assert unlocked.actor == admin and unlocked.detail == {"user": official.pk}
    assert json.loads(unlocked.body)["actor"]["role"] == "superuser"
    for _ in range(signin.ACCOUNT_FAILURES):  # guesses at a name nobody has are not recorded
        client.post(reverse("voting:sign_in"), {"username": "nobody", "password": "wrong"}, REMOTE_ADDR="198.51.100.3")
    assert OfficialAction.objects.filter(action="staff_locked_out").count() == 1
    cache.clear()
    assert check().ok


# --- tampering -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql, params, problem", [
    ("UPDATE voting_officialaction SET detail = %s WHERE seq = 2", ['{"title": "forged"}'], "column_mismatch"),
    ("UPDATE voting_officialaction SET action = 'election_created' WHERE seq = 2", [], "column_mismatch"),
    ("UPDATE voting_officialaction SET created_at = %s WHERE seq = 2", ["2020-01-01 00:00:00+00:00"], "column_mismatch"),
    ("UPDATE voting_officialaction SET body = REPLACE(body, 'edit 1', 'edit X') WHERE seq = 2", [], "hash_mismatch"),
    ("UPDATE voting_officialaction SET signature = REPLACE(signature, SUBSTR(signature, 1, 2), 'ff') WHERE seq = 2",
     [], "bad_signature"),
    ("DELETE FROM voting_officialaction WHERE seq = 2", [], "sequence_gap"),
    ("UPDATE voting_officialaction SET seq = seq + 100 WHERE seq = 2", [], "sequence_gap"),
])
def test_tampering_with_one_row_is_detected_at_that_record(
    official: User, election: Election, now: datetime, sql: str, params: list[Any], problem: str,
) -> None:
    write_records(official, election, now, 5)
    assert check().ok
    tamper(sql, params)
    result = check()
    assert result.problem == problem and result.first_bad_seq == 2, result.to_dict()


def test_changing_the_actor_column_is_detected(official: User, election: Election, now: datetime) -> None:
    write_records(official, election, now, 3)
    other = User.objects.create_user("scapegoat", password="z" * 20)
    tamper("UPDATE voting_officialaction SET actor_id = %s WHERE seq = 1", [other.pk])
    result = check()
    assert (result.problem, result.first_bad_seq) == ("column_mismatch", 1)


def test_swapping_two_records_is_detected(official: User, election: Election, now: datetime) -> None:
    write_records(official, election, now, 4)
    tamper("UPDATE voting_officialaction SET seq = -1 WHERE seq = 2", [])
    tamper("UPDATE voting_officialaction SET seq = 2 WHERE seq = 3", [])
    tamper("UPDATE voting_officialaction SET seq = 3 WHERE seq = -1", [])
    result = check()
    assert result.problem in {"body_mismatch", "chain_broken"} and result.first_bad_seq == 2, result.to_dict()


def test_deleting_the_last_records_is_detected_by_the_head(official: User, election: Election, now: datetime) -> None:
    write_records(official, election, now, 4)
    tamper("DELETE FROM voting_officialaction WHERE seq >= 3", [])
    result = check()
    assert result.problem == "head_mismatch" and result.first_bad_seq == 3, result.to_dict()


def test_a_record_re_signed_with_another_key_is_detected(official: User, election: Election, now: datetime) -> None:
    write_records(official, election, now, 3)
    row = OfficialAction.objects.get(seq=2)
    body = json.loads(row.body)
    body["detail"] = {"title": "forged by someone without the key"}
    forged = audit_log.seal(body, PrivateKey.generate())
    tamper("UPDATE voting_officialaction SET body = %s, record_hash = %s, signature = %s, detail = %s WHERE seq = 2",
           [forged.body, forged.record_hash, forged.signature, json.dumps(body["detail"])])
    result = check()
    assert (result.problem, result.first_bad_seq) == ("bad_signature", 2)


def rewrite_tail(from_seq: int, key: PrivateKey) -> None:
    """Rewrite every record from ``from_seq`` on with a consistent chain and valid signatures under ``key``."""
    rows = list(OfficialAction.objects.filter(seq__gte=from_seq).order_by("seq"))
    prev = OfficialAction.objects.get(seq=from_seq - 1).record_hash
    for row in rows:
        body = json.loads(row.body)
        body["prev"] = prev
        body["detail"] = {**body["detail"], "title": "history rewritten"}
        sealed = audit_log.seal(body, key)
        tamper("UPDATE voting_officialaction SET body = %s, prev_hash = %s, record_hash = %s, signature = %s, "
               "detail = %s WHERE seq = %s",
               [sealed.body, sealed.prev_hash, sealed.record_hash, sealed.signature, json.dumps(body["detail"]), row.seq])
        prev = sealed.record_hash
    OfficialLogHead.objects.filter(pk=1).update(record_hash=prev)


def test_the_ledger_anchor_exposes_a_rewrite_even_by_someone_holding_the_key(
    official: User, election: Election, now: datetime, transport: InProcessTransport, audit_key: Path,
) -> None:
    write_records(official, election, now, 4)
    first = anchor_head()
    assert first is not None and first.log_seq == 4
    assert get_ledger_anchors(get_gateway()) == [(0, first.record_hash)]
    write_records(official, election, now, 3)
    anchor_head()
    result = verify_official_log()
    assert result.ok and result.anchors_checked == 2, result.to_dict()

    # Records after the newest anchor, re-signed with the stolen key: chain and signatures hold. This is
    # the documented window (records since the last anchor); the anchor itself still matches.
    write_records(official, election, now, 2)
    key = PrivateKey.from_pem(audit_key.read_bytes())
    rewrite_tail(8, key)
    assert verify_official_log().ok

    # Rewriting anything an anchor covers, even re-signed with the real key, no longer matches the ledger.
    rewrite_tail(3, key)
    assert check().ok  # the database alone cannot tell
    result = verify_official_log()
    assert result.problem == "anchor_mismatch" and result.first_bad_seq == 0, result.to_dict()


def test_a_swapped_audit_key_is_detected_through_the_ledger_fingerprint(
    official: User, election: Election, now: datetime, transport: InProcessTransport, audit_key: Path,
) -> None:
    """Same bodies, same hashes (so every anchor still matches), every record re-signed by a new key."""
    write_records(official, election, now, 2)
    anchor_head()
    new_key = PrivateKey.generate()
    audit_key.write_bytes(new_key.to_pem())
    audit_log._load_key.cache_clear()
    assert verify_official_log().problem == "bad_signature"  # the old signatures fail under the new key
    for row in OfficialAction.objects.order_by("seq"):
        resigned = audit_log.seal(json.loads(row.body), new_key)
        assert resigned.record_hash == row.record_hash
        tamper("UPDATE voting_officialaction SET signature = %s WHERE seq = %s", [resigned.signature, row.seq])
    assert check().ok  # consistent under the new key, as far as the database can tell
    result = verify_official_log()
    assert (result.problem, result.first_bad_seq) == ("key_mismatch", 0), result.to_dict()


def test_an_unreachable_ledger_is_reported_not_passed(official: User, election: Election, now: datetime,
                                                      transport: InProcessTransport) -> None:
    write_records(official, election, now, 1)
    transport.offline = True
    result = verify_official_log()
    assert result.ok and result.anchors_note.startswith("ledger anchors not checked")
    with pytest.raises(SystemExit) as exited:
        call_command("verify_official_log")
    assert exited.value.code == 2


def test_the_command_names_the_first_bad_record_and_exits_non_zero(
    official: User, election: Election, now: datetime, capsys: pytest.CaptureFixture[str],
) -> None:
    write_records(official, election, now, 3)
    call_command("verify_official_log", "--no-ledger")
    assert "officials' log OK: 4 records" in capsys.readouterr().out
    tamper("UPDATE voting_officialaction SET detail = %s WHERE seq = 3", ['{"title": "x"}'])
    with pytest.raises(SystemExit) as exited:
        call_command("verify_official_log", "--no-ledger")
    assert exited.value.code == 1
    assert "MISMATCH at record 3: column_mismatch" in capsys.readouterr().err


def test_an_export_verifies_offline_and_a_changed_line_fails(official: User, election: Election, now: datetime,
                                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from voting.audit_log_anchor import get_head, iter_records

    write_records(official, election, now, 3)
    lines = list(audit_log.iter_export_lines(iter_records(), audit_log.get_signing_key().public_key, get_head()))
    export = tmp_path / "log.jsonl"
    export.write_text("".join(lines), encoding="utf-8")
    call_command("verify_official_log", "--file", str(export))
    assert "4 records" in capsys.readouterr().out
    export.write_text("".join(lines).replace("edit 1", "edit 9"), encoding="utf-8")
    with pytest.raises(SystemExit):
        call_command("verify_official_log", "--file", str(export))


# --- PostgreSQL: the trigger and concurrent appends ------------------------------------------------------

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs PostgreSQL (DATABASE_URL)")


@postgres_only
def test_postgresql_refuses_update_and_delete_of_a_record(official: User, election: Election, now: datetime) -> None:
    from django.db import DatabaseError, transaction

    for sql in ("UPDATE voting_officialaction SET action = 'x'", "DELETE FROM voting_officialaction"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_postgresql_form_one_chain(settings: Any, tmp_path: Path) -> None:
    import threading

    from django.db import connections, transaction

    from .factories import ensure_seed_data

    ensure_seed_data()
    actors = [User.objects.create_user(f"official{i}", password="w" * 20) for i in range(6)]
    barrier = threading.Barrier(len(actors))
    errors: list[BaseException] = []

    def work(actor: User) -> None:
        try:
            barrier.wait()
            for index in range(10):
                with transaction.atomic():
                    record_action(actor, "station_created", datetime.now().astimezone(), code=f"{actor.pk}-{index}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(OfficialAction.objects.values_list("seq", flat=True)) == list(range(60))
    result = check()
    assert result.ok and result.records == 60, result.to_dict()
