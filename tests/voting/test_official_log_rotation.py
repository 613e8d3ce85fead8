"""Rotating the officials' audit-log key: the old key signs a hand-over to the new one, and every verifier follows it.

Forgeries are made the way a hostile official would: plain SQL on the table (past the
PostgreSQL trigger, as its superuser may), with the stolen old key or a key of their own.
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
from django.core.management.base import CommandError
from django.db import connection  # noqa: F401 (read by the skipif condition strings below)
from django.test import Client
from django.urls import reverse

from ledger.core.crypto import PrivateKey, is_valid_signature
from voting import audit_log
from voting.audit_log_anchor import (
    _submit_anchor,
    anchor_head,
    get_head,
    get_ledger_anchors,
    iter_records,
    verify_official_log,
)
from voting.errors import LedgerRejected
from voting.ledger_gateway import get_gateway
from voting.models import Election, ElectionRole, OfficialAction, OfficialLogHead
from voting.services.audit import record_action

from .inprocess_ledger import InProcessTransport
from .test_official_log import tamper, write_records

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def audit_key(settings: Any, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "keys" / "official-log.pem"
    settings.VOTING = {**settings.VOTING, "AUDIT_LOG_KEY_FILE": path}
    yield path


@pytest.fixture(autouse=True)
def ledger(transport: InProcessTransport) -> InProcessTransport:
    """The ceremony anchors on the ledger; every test has one (tests that need it offline say so)."""
    return transport


def check(**options: Any) -> audit_log.Verification:
    return verify_official_log(check_ledger=False, **options)


def rotate(*args: str) -> None:
    call_command("rotate_official_log_key", "--by", "official", *args)


def current_key(path: Path) -> PrivateKey:
    return PrivateKey.from_pem(path.read_bytes())


def rotation_seqs() -> list[int]:
    return list(OfficialAction.objects.filter(action=audit_log.ROTATION_ACTION).order_by("seq")
                .values_list("seq", flat=True))


def export_lines() -> list[str]:
    from audit.selectors.official_log import iter_export

    return list(iter_export())


def reseal(seq: int, key: PrivateKey, change: Any = None) -> None:
    """Rewrite record ``seq`` (body changed by ``change``) with a valid hash and ``key``'s signature; later records keep their prev."""
    row = OfficialAction.objects.get(seq=seq)
    body = json.loads(row.body)
    if change is not None:
        change(body)
    sealed = audit_log.seal(body, key)
    tamper("UPDATE voting_officialaction SET body = %s, record_hash = %s, signature = %s, detail = %s WHERE seq = %s",
           [sealed.body, sealed.record_hash, sealed.signature, json.dumps(body["detail"]), seq])


# --- the ceremony ------------------------------------------------------------------------------------


def test_rotation_hands_over_and_everything_verifies(
    official: User, election: Election, now: datetime, transport: InProcessTransport, audit_key: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write_records(official, election, now, 3)
    old = current_key(audit_key)
    rotate("--reason", "staff_change")
    out = capsys.readouterr().out
    new = current_key(audit_key)
    assert new.public_key != old.public_key
    assert new.to_pem().decode() not in out and "anchored on the ledger" in out
    assert audit_key.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in audit_key.parent.iterdir()) == ["official-log.pem"]  # the old key is gone

    (handover,) = OfficialAction.objects.filter(action=audit_log.ROTATION_ACTION)
    assert handover.seq == 4 and handover.actor == official and handover.election is None
    assert handover.detail == {"old_public_key": old.public_key.hex(), "new_public_key": new.public_key.hex(),
                               "new_key_fingerprint": audit_log.compute_key_fingerprint(new.public_key),
                               "reason": "staff_change"}
    assert audit_log.seal(json.loads(handover.body), old).record_hash == handover.record_hash

    write_records(official, election, now, 2)  # signed by the new key from here on
    after = OfficialAction.objects.get(seq=6)
    assert is_valid_signature(new.public_key, bytes.fromhex(after.signature), after.body.encode())
    assert not is_valid_signature(old.public_key, bytes.fromhex(after.signature), after.body.encode())
    result = verify_official_log()
    assert result.ok and result.records == 7 and result.handover_seqs == [4], result.to_dict()
    assert result.public_keys == [old.public_key, new.public_key]
    fingerprints = [audit_log.compute_key_fingerprint(k) for k in (old.public_key, new.public_key)]
    assert [h for _s, h in get_ledger_anchors(get_gateway(), audit_log.KEY_LABEL)] == fingerprints

    lines = export_lines()
    header = json.loads(lines[0])
    assert header["format"] == 2 and header["public_keys"] == [old.public_key.hex(), new.public_key.hex()]
    assert header["public_key"] == new.public_key.hex()
    keys, head, records = audit_log.parse_export(lines)
    assert audit_log.verify_chain(records, keys, head=head).ok
    export = tmp_path / "log.jsonl"
    export.write_text("".join(lines), encoding="utf-8")
    call_command("verify_official_log", "--file", str(export))
    assert "7 records" in capsys.readouterr().out


def test_another_process_signs_with_the_new_key_without_being_told(
    official: User, election: Election, now: datetime, audit_key: Path,
) -> None:
    """The key cache follows the file, not the path: a worker that cached the old key picks up the new one."""
    write_records(official, election, now, 1)
    cached = audit_log.get_signing_key()
    new = PrivateKey.generate()
    retired = audit_log.install_new_key(audit_key, new)  # what another process's ceremony does to this file
    audit_log.remove_retired_key(retired)
    assert audit_log.get_signing_key().public_key == new.public_key != cached.public_key


def test_the_observer_page_shows_the_key_history(official: User, election: Election, now: datetime,
                                                 transport: InProcessTransport, audit_key: Path) -> None:
    old = current_key(audit_key)
    rotate()
    record_action(official, "election_updated", now, election=election, title="after the rotation")
    new = current_key(audit_key)
    observer = User.objects.create_user("observer1", password="x" * 20)
    ElectionRole.objects.create(election=election, user=observer, role=ElectionRole.Role.OBSERVER,
                                granted_by=official, granted_at=now)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(observer)
    page = client.get(reverse("audit:official_log")).content.decode()
    assert "Intact" in page and "3 records: chain, hashes and signatures verified." in page
    assert "Key history" in page and "Audit-log key replaced" in page
    assert audit_log.compute_key_fingerprint(old.public_key) in page
    assert audit_log.compute_key_fingerprint(new.public_key) in page
    assert "record 1 (the hand-over)" in page and "retired" in page and "current" in page
    korean = client.get(reverse("audit:official_log"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "키 이력" in korean and "기록 1 (키 인계)" in korean and "감사 기록 서명 키 교체" in korean
    response = client.get(reverse("audit:official_log_export"))
    keys, head, records = audit_log.parse_export(b"".join(response.streaming_content).decode().splitlines())
    assert keys == [old.public_key, new.public_key] and audit_log.verify_chain(records, keys, head=head).ok


def test_two_rotations_in_a_row(official: User, election: Election, now: datetime, transport: InProcessTransport,
                                audit_key: Path, tmp_path: Path) -> None:
    first = audit_log.get_signing_key().public_key
    write_records(official, election, now, 1)
    rotate()
    second = current_key(audit_key).public_key
    rotate("--reason", "suspected_compromise")
    third = current_key(audit_key).public_key
    write_records(official, election, now, 1)
    assert rotation_seqs() == [2, 3]
    result = verify_official_log()
    assert result.ok and result.public_keys == [first, second, third] and result.handover_seqs == [2, 3]
    assert len(get_ledger_anchors(get_gateway(), audit_log.KEY_LABEL)) == 3
    keys, head, records = audit_log.parse_export(export_lines())
    assert keys == [first, second, third] and audit_log.verify_chain(records, keys, head=head).ok
    assert audit_log.verify_chain(records, [first, third], head=head).problem == "key_handover_invalid"
    assert audit_log.verify_chain(records, [first, second], head=head).problem == "key_handover_invalid"


# --- forgeries ---------------------------------------------------------------------------------------


def test_a_record_after_the_hand_over_signed_with_the_old_key_is_refused(
    official: User, election: Election, now: datetime, audit_key: Path,
) -> None:
    write_records(official, election, now, 2)
    old = audit_log.get_signing_key()
    rotate()
    write_records(official, election, now, 2)
    assert check().ok
    reseal(5, old, lambda body: body["detail"].update(title="written with the stolen old key"))
    result = check()
    assert (result.problem, result.first_bad_seq) == ("bad_signature", 5), result.to_dict()


def test_a_hand_over_to_a_swapped_key_signed_by_that_key_is_refused(
    official: User, election: Election, now: datetime, audit_key: Path,
) -> None:
    write_records(official, election, now, 2)
    rotate()
    mine = PrivateKey.generate()

    def swap(body: dict[str, Any]) -> None:
        body["detail"].update(audit_log.build_handover_detail(bytes.fromhex(body["detail"]["old_public_key"]),
                                                              mine.public_key))

    reseal(3, mine, swap)
    result = check()
    assert (result.problem, result.first_bad_seq) == ("bad_signature", 3), result.to_dict()


def test_a_hand_over_rewritten_with_the_stolen_old_key_does_not_match_the_key_file(
    official: User, election: Election, now: datetime, audit_key: Path,
) -> None:
    """The old key's holder re-signs the hand-over to a key of their own: the chain no longer ends on the key file."""
    write_records(official, election, now, 2)
    old = audit_log.get_signing_key()
    rotate()
    new = current_key(audit_key)
    mine = PrivateKey.generate()
    reseal(3, old, lambda body: body["detail"].update(audit_log.build_handover_detail(old.public_key, mine.public_key)))
    OfficialLogHead.objects.filter(pk=1).update(record_hash=OfficialAction.objects.get(seq=3).record_hash)
    result = check()
    assert (result.problem, result.first_bad_seq) == ("key_mismatch", 4), result.to_dict()
    result = audit_log.verify_chain(iter_records(), [old.public_key, new.public_key], head=get_head())
    assert (result.problem, result.first_bad_seq) == ("key_handover_invalid", 3), result.to_dict()
    write_records(official, election, now, 1)  # signed by the real new key, which the forged hand-over does not name
    result = check()
    assert (result.problem, result.first_bad_seq) == ("bad_signature", 4), result.to_dict()


@pytest.mark.parametrize("change", [
    lambda d: d.update(new_key_fingerprint="0" * 64),
    lambda d: d.update(old_public_key=PrivateKey.generate().public_key.hex()),
    lambda d: d.update(new_public_key="04" + "00" * 64),
    lambda d: d.update(new_public_key=d["old_public_key"],
                       new_key_fingerprint=audit_log.compute_key_fingerprint(bytes.fromhex(d["old_public_key"]))),
    lambda d: d.pop("new_public_key"),
], ids=["fingerprint", "outgoing-key", "not-a-point", "same-key", "no-key"])
def test_a_malformed_hand_over_signed_by_the_old_key_is_refused(
    official: User, election: Election, now: datetime, audit_key: Path, change: Any,
) -> None:
    write_records(official, election, now, 1)
    old = audit_log.get_signing_key()
    rotate()
    new = current_key(audit_key)
    reseal(2, old, lambda body: change(body["detail"]))
    OfficialLogHead.objects.filter(pk=1).update(record_hash=OfficialAction.objects.get(seq=2).record_hash)
    # Against the true key list (an export's header), the hand-over record itself is refused.
    result = audit_log.verify_chain(iter_records(), [old.public_key, new.public_key], head=get_head())
    assert (result.problem, result.first_bad_seq) == ("key_handover_invalid", 2), result.to_dict()
    # The database derives its list from the hand-over record, so the forgery shows at or before it.
    result = check()
    assert not result.ok and result.first_bad_seq is not None and result.first_bad_seq <= 2, result.to_dict()


def test_a_hand_over_whose_action_column_was_changed_is_still_followed(
    official: User, election: Election, now: datetime, audit_key: Path,
) -> None:
    write_records(official, election, now, 1)
    rotate()
    write_records(official, election, now, 1)
    tamper("UPDATE voting_officialaction SET action = 'election_updated' WHERE seq = 2", [])
    result = check()
    assert (result.problem, result.first_bad_seq) == ("column_mismatch", 2), result.to_dict()


def test_removing_the_hand_over_record_is_caught(official: User, election: Election, now: datetime,
                                                 audit_key: Path) -> None:
    """The database then knows only the key file (record 0 fails); the header's key list names the gap."""
    write_records(official, election, now, 2)
    old = audit_log.get_signing_key()
    rotate()
    write_records(official, election, now, 2)
    tamper("DELETE FROM voting_officialaction WHERE seq = 3", [])
    result = check()
    assert (result.problem, result.first_bad_seq) == ("bad_signature", 0), result.to_dict()
    new = current_key(audit_key)
    result = audit_log.verify_chain(iter_records(), [old.public_key, new.public_key], head=get_head())
    assert (result.problem, result.first_bad_seq) == ("sequence_gap", 3), result.to_dict()


def test_removing_one_of_two_hand_over_records_is_caught_where_it_was(
    official: User, election: Election, now: datetime, audit_key: Path,
) -> None:
    write_records(official, election, now, 1)
    rotate()
    write_records(official, election, now, 1)
    rotate()
    write_records(official, election, now, 1)
    tamper("DELETE FROM voting_officialaction WHERE seq = 4", [])
    result = check()
    assert (result.problem, result.first_bad_seq) == ("sequence_gap", 4), result.to_dict()


def test_removing_a_final_hand_over_record_is_caught(official: User, election: Election, now: datetime,
                                                     audit_key: Path) -> None:
    """With no hand-over left the database knows only the key file, so the old records fail from record 0."""
    write_records(official, election, now, 2)
    old = audit_log.get_signing_key()
    rotate()
    tamper("DELETE FROM voting_officialaction WHERE seq = 3", [])
    result = check()
    assert (result.problem, result.first_bad_seq) == ("bad_signature", 0), result.to_dict()
    # An export of the same rows, with the header's key list, points at the missing end.
    new = current_key(audit_key)
    result = audit_log.verify_chain(iter_records(), [old.public_key, new.public_key], head=get_head())
    assert (result.problem, result.first_bad_seq) == ("head_mismatch", 3), result.to_dict()


def test_an_export_whose_header_drops_or_swaps_a_key_is_refused(official: User, election: Election, now: datetime,
                                                                audit_key: Path) -> None:
    write_records(official, election, now, 1)
    rotate()
    write_records(official, election, now, 1)
    keys, head, records = audit_log.parse_export(export_lines())
    assert audit_log.verify_chain(records, keys, head=head).ok
    assert audit_log.verify_chain(records, keys[1:], head=head).problem == "bad_signature"  # first key dropped
    assert audit_log.verify_chain(records, keys[:1], head=head).problem == "key_handover_invalid"  # last dropped
    swapped = [keys[0], PrivateKey.generate().public_key]
    result = audit_log.verify_chain(records, swapped, head=head)
    assert (result.problem, result.first_bad_seq) == ("key_handover_invalid", 2)
    extra = [*keys, PrivateKey.generate().public_key]
    assert audit_log.verify_chain(records, extra, head=head).problem == "key_mismatch"  # a hand-over removed


# --- the ledger --------------------------------------------------------------------------------------


def test_a_rotation_the_ledger_missed_is_noted_then_published_by_the_next_anchor(
    official: User, election: Election, now: datetime, transport: InProcessTransport, audit_key: Path,
) -> None:
    write_records(official, election, now, 2)
    anchor_head()
    transport.offline = True
    with pytest.raises(CommandError, match="^ledger_unavailable: the new key fingerprint is not on the ledger") as exc:
        rotate()
    assert exc.value.returncode == 2 and rotation_seqs() == [3]  # the rotation stands
    write_records(official, election, now, 1)
    transport.offline = False
    result = verify_official_log()
    assert result.ok and "key hand-over at record 3 not yet anchored" in result.anchors_note, result.to_dict()
    page_check = verify_official_log(latest_anchor_only=True)
    assert page_check.ok and "not yet anchored" in page_check.anchors_note

    anchor_head()  # the retry path: the next anchor publishes the missing fingerprint first
    keys = get_ledger_anchors(get_gateway(), audit_log.KEY_LABEL)
    assert [h for _s, h in keys] == [audit_log.compute_key_fingerprint(k) for k in result.public_keys]
    result = verify_official_log()
    assert result.ok and not result.anchors_note and result.anchors_checked == 2, result.to_dict()


def test_key_anchors_in_another_order_are_a_mismatch_and_are_not_extended(
    official: User, election: Election, now: datetime, transport: InProcessTransport, audit_key: Path,
) -> None:
    write_records(official, election, now, 1)
    anchor_head()
    transport.offline = True
    with pytest.raises(CommandError):
        rotate()
    transport.offline = False
    # Someone with the authority key anchors a key of their own as the log's second key.
    _submit_anchor(get_gateway(), audit_log.KEY_LABEL, audit_log.compute_key_fingerprint(PrivateKey.generate().public_key))
    result = verify_official_log()
    assert (result.problem, result.first_bad_seq) == ("key_mismatch", 2), result.to_dict()
    assert verify_official_log(latest_anchor_only=True).problem == "key_mismatch"
    with pytest.raises(LedgerRejected) as refused:
        anchor_head()
    assert refused.value.detail["reason"] == "key_anchors_diverge"


def test_the_ledger_exposes_a_hand_over_rewritten_by_someone_holding_both_keys(
    official: User, election: Election, now: datetime, transport: InProcessTransport, audit_key: Path,
) -> None:
    """Chain, hand-over and key file all rewritten consistently: only the ledger's key anchors disagree."""
    write_records(official, election, now, 1)
    old = audit_log.get_signing_key()
    rotate()
    mine = PrivateKey.generate()
    reseal(2, old, lambda body: body["detail"].update(audit_log.build_handover_detail(old.public_key, mine.public_key)))
    OfficialLogHead.objects.filter(pk=1).update(record_hash=OfficialAction.objects.get(seq=2).record_hash)
    audit_key.write_bytes(mine.to_pem())
    assert check().ok  # the database and key file alone cannot tell
    result = verify_official_log()
    assert (result.problem, result.first_bad_seq) == ("key_mismatch", 2), result.to_dict()


# --- export formats ----------------------------------------------------------------------------------


def test_a_format_1_export_still_verifies(official: User, election: Election, now: datetime, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write_records(official, election, now, 2)
    public_key = audit_log.get_signing_key().public_key
    head = get_head()
    header = {"log": audit_log.LOG_LABEL, "public_key": public_key.hex(),
              "key_fingerprint": audit_log.compute_key_fingerprint(public_key),
              "signature_algorithm": audit_log.SIGNATURE_ALGORITHM, "head_seq": head[0], "head_hash": head[1]}
    lines = [json.dumps(header, sort_keys=True) + "\n", *export_lines()[1:]]
    keys, parsed_head, records = audit_log.parse_export(lines)
    assert keys == [public_key] and audit_log.verify_chain(records, keys, head=parsed_head).ok
    export = tmp_path / "old.jsonl"
    export.write_text("".join(lines), encoding="utf-8")
    call_command("verify_official_log", "--file", str(export))
    assert "3 records" in capsys.readouterr().out
    export.write_text("".join(lines).replace("edit 1", "edit 9"), encoding="utf-8")
    with pytest.raises(SystemExit):
        call_command("verify_official_log", "--file", str(export))


def test_a_format_2_export_of_a_rotated_log_fails_the_cli_when_a_line_changes(
    official: User, election: Election, now: datetime, tmp_path: Path, audit_key: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_records(official, election, now, 1)
    rotate()
    write_records(official, election, now, 1)
    lines = export_lines()
    export = tmp_path / "log.jsonl"
    export.write_text("".join(lines), encoding="utf-8")
    call_command("verify_official_log", "--file", str(export))
    assert "4 records" in capsys.readouterr().out
    export.write_text("".join(lines).replace('\\"reason\\":\\"scheduled\\"', '\\"reason\\":\\"nothing\\"'), encoding="utf-8")
    with pytest.raises(SystemExit):
        call_command("verify_official_log", "--file", str(export))
    assert "MISMATCH at record 2: hash_mismatch" in capsys.readouterr().err


# --- refusals and the key file ------------------------------------------------------------------------


def test_rotation_refuses_without_a_key(official: User, audit_key: Path) -> None:
    with pytest.raises(CommandError, match="^audit_log_key_missing"):
        rotate()
    assert not audit_key.exists() and not OfficialAction.objects.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o400])
def test_rotation_refuses_a_key_file_that_is_not_0600(official: User, election: Election, audit_key: Path,
                                                     mode: int) -> None:
    before = audit_key.read_bytes()
    records = OfficialAction.objects.count()
    audit_key.chmod(mode)
    with pytest.raises(CommandError, match=f"^audit_log_key_insecure: .* has mode {mode:04o}"):
        rotate()
    assert audit_key.read_bytes() == before and OfficialAction.objects.count() == records


def test_rotation_refuses_someone_who_is_not_an_official(election: Election, audit_key: Path) -> None:
    User.objects.create_user("clerk", password="x" * 20)
    with pytest.raises(CommandError, match="^actor_not_allowed"):
        call_command("rotate_official_log_key", "--by", "clerk")
    assert not rotation_seqs()


def test_a_failed_hand_over_puts_the_old_key_back(official: User, election: Election, audit_key: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """If the hand-over record does not commit, the old key stays: a new key with no hand-over would break the chain."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from django.db import DatabaseError, transaction

    @contextmanager
    def atomic_failing_at_commit() -> Iterator[None]:
        with transaction.atomic():
            yield
            raise DatabaseError("the commit failed")

    before = audit_key.read_bytes()
    monkeypatch.setattr("voting.services.audit.transaction", SimpleNamespace(atomic=atomic_failing_at_commit))
    with pytest.raises(DatabaseError):
        rotate()
    assert audit_key.read_bytes() == before and audit_key.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in audit_key.parent.iterdir()) == ["official-log.pem"]
    assert not rotation_seqs() and check().ok


@pytest.mark.parametrize("earlier_rotation", [False, True])
def test_a_ceremony_cut_off_before_its_commit_is_reported_and_recovered_as_documented(
    official: User, election: Election, now: datetime, audit_key: Path, earlier_rotation: bool,
) -> None:
    """The host dies after the new key is in place but before the hand-over commits (docs/operations.md)."""
    write_records(official, election, now, 1)
    if earlier_rotation:
        rotate()
    retired = audit_log.install_new_key(audit_key, PrivateKey.generate())  # and then nothing: the process is gone
    assert retired.parent == audit_key.parent and retired.name.startswith(".official-log.pem.retired.")
    assert check().problem in {"bad_signature", "key_mismatch"}
    retired.replace(audit_key)  # mv -f
    assert check().ok


# --- PostgreSQL: rotation against concurrent appends ---------------------------------------------------

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs PostgreSQL (DATABASE_URL)")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_no_record_is_signed_with_the_old_key_after_a_concurrent_hand_over(audit_key: Path) -> None:
    import threading

    from django.contrib.auth.models import Group
    from django.db import connections

    from voting.access import OFFICIALS_GROUP
    from voting.services.audit import rotate_log_key

    from .factories import ensure_seed_data

    ensure_seed_data()
    actors = [User.objects.create_user(f"official{i}", password="w" * 20) for i in range(4)]
    ceremony = User.objects.create_user("ceremony", password="w" * 20)
    ceremony.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
    record_action(ceremony, "station_created", datetime.now().astimezone(), code="first")
    barrier = threading.Barrier(len(actors) + 1)
    errors: list[BaseException] = []

    def append(actor: User) -> None:
        try:
            barrier.wait()
            for index in range(10):
                record_action(actor, "station_created", datetime.now().astimezone(), code=f"{actor.pk}-{index}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def rotate_twice() -> None:
        try:
            barrier.wait()
            for _ in range(2):
                rotate_log_key(ceremony, datetime.now().astimezone() + timedelta(microseconds=1), reason="scheduled")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(actor,)) for actor in actors]
    threads.append(threading.Thread(target=rotate_twice))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(OfficialAction.objects.values_list("seq", flat=True)) == list(range(43))
    result = check()
    assert result.ok and result.records == 43 and len(result.public_keys) == 3, result.to_dict()
