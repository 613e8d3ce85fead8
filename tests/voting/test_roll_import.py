"""Roll import: every bad row reported with line and column, nothing imported; good files in one go."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from openpyxl import Workbook

from voting import pii
from voting.errors import ElectionWrongStatus, RollFileInvalid, RollLocked
from voting.models import Election, PollingStation, RollImport, TokenBatch, VoterRollEntry
from voting.services.roll import import_roll

from .factories import HEADER, roll_rows, to_csv

pytestmark = pytest.mark.django_db


def run(user: User, election: Election, data: bytes, now: datetime, name: str = "roll.csv") -> RollImport:
    return import_roll(user, election, file_name=name, data=data, now=now)


def problems_of(user: User, election: Election, data: bytes, now: datetime, name: str = "roll.csv") -> list[tuple[int, str, str]]:
    with pytest.raises(RollFileInvalid) as info:
        run(user, election, data, now, name)
    report = RollImport.objects.get(pk=info.value.detail["import_id"])
    assert report.outcome == "rejected"
    assert not VoterRollEntry.objects.filter(election=election).exists()
    return [(p["line"], p["column"], p["code"]) for p in report.errors]


def test_good_csv_imports_every_row_with_hashed_identifiers(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    report = run(official, election, to_csv(roll_rows(5, ["suwon-1"])), now)
    assert report.outcome == "imported" and report.imported == 5
    entry = VoterRollEntry.objects.get(roll_number="R0000001")
    assert entry.phone_hmac == pii.compute_phone_hmac("01000000001")
    assert len(entry.national_id_hmac) == 64 and "0000001" not in entry.national_id_hmac
    assert entry.status == "eligible"


@pytest.mark.parametrize(
    ("row", "column", "code"),
    [
        (("R1", "", "1980-01-01", "suwon-1", "", ""), "name", "required"),
        (("R1", "Kim", "1980-02-30", "suwon-1", "", ""), "birth_date", "invalid_date"),
        (("R1", "Kim", "2020-01-01", "suwon-1", "", ""), "birth_date", "under_age"),
        (("R1", "Kim", "2999-01-01", "suwon-1", "", ""), "birth_date", "future_date"),
        (("R1", "Kim", "1980-01-01", "nowhere", "", ""), "station", "unknown_station"),
        (("R1", "Kim", "1980-01-01", "suwon-1", "02-123-4567", ""), "phone", "invalid_phone"),
        (("R1", "Kim", "1980-01-01", "suwon-1", "", "800101-123"), "national_id", "invalid_national_id"),
        (("R1", "Kim", "1980-01-01", "suwon-1", "", "800102-1234567"), "national_id", "national_id_birth_mismatch"),
        (("R" + "9" * 40, "Kim", "1980-01-01", "suwon-1", "", ""), "roll_number", "too_long"),
    ],
)
def test_each_bad_cell_is_reported_with_line_and_column(
    official: User, election: Election, station: PollingStation, now: datetime, row: tuple[str, ...], column: str, code: str,
) -> None:
    data = to_csv([*roll_rows(2, ["suwon-1"], start=100), row])
    assert problems_of(official, election, data, now) == [(4, column, code)]


def test_every_bad_row_is_reported_not_just_the_first(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    rows = roll_rows(10, ["suwon-1"])
    rows[2] = (*rows[2][:2], "yesterday", *rows[2][3:])
    rows[7] = (*rows[7][:3], "mars-1", *rows[7][4:])
    rows.append(rows[0])  # duplicate roll number and national id of line 2
    found = problems_of(official, election, to_csv(rows), now)
    assert found == [(4, "birth_date", "invalid_date"), (9, "station", "unknown_station"),
                     (12, "roll_number", "duplicate_in_file"), (12, "national_id", "duplicate_in_file")]


def test_duplicates_against_the_existing_roll_are_refused(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    run(official, election, to_csv(roll_rows(3, ["suwon-1"])), now)
    found = problems_of_existing(official, election, to_csv(roll_rows(1, ["suwon-1"], start=2)), now)
    assert found == [(2, "roll_number", "duplicate_existing"), (2, "national_id", "duplicate_existing")]
    assert VoterRollEntry.objects.filter(election=election).count() == 3


def problems_of_existing(user: User, election: Election, data: bytes, now: datetime) -> list[tuple[int, str, str]]:
    with pytest.raises(RollFileInvalid) as info:
        run(user, election, data, now)
    return [(p["line"], p["column"], p["code"]) for p in RollImport.objects.get(pk=info.value.detail["import_id"]).errors]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "file_empty"),
        (b"\xff\xfe\x00\x01garbage\x00", "file_encoding"),
        (b"roll_number\x00name\n", "file_not_csv"),
        (b"roll_number,name\nR1,Kim\n", "missing_column"),
        (b"roll_number,name,birth_date,station,shoe_size\nR1,Kim,1980-01-01,suwon-1,42\n", "unknown_column"),
        (("roll_number,name,birth_date,station\n").encode(), "no_rows"),
        (b'roll_number,name,birth_date,station\n"R1,Kim,1980-01-01,suwon-1\n', "file_not_csv"),
    ],
)
def test_unreadable_or_malformed_files_are_refused(
    official: User, election: Election, station: PollingStation, now: datetime, data: bytes, code: str,
) -> None:
    assert code in {c for _, _, c in problems_of(official, election, data, now)}


def test_korean_headers_and_cp949_encoding_are_accepted(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    text = "선거인번호,성명,생년월일,투표소\nK1,김민준,1980.01.01,suwon-1\n"
    report = run(official, election, text.encode("cp949"), now)
    assert report.imported == 1
    assert VoterRollEntry.objects.get().name == "김민준"


def test_wrong_cell_count_is_a_row_problem(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    data = to_csv(roll_rows(1, ["suwon-1"])) + b"R9,Kim,1980-01-01\n"
    assert problems_of(official, election, data, now) == [(3, "", "wrong_cell_count")]


def test_xlsx_is_imported(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(HEADER))
    for row in roll_rows(3, ["suwon-1"]):
        sheet.append(list(row))
    sheet.append(["X1", "Park", datetime(1970, 5, 6), "suwon-1", None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert run(official, election, buffer.getvalue(), now, "roll.xlsx").imported == 4
    assert str(VoterRollEntry.objects.get(roll_number="X1").birth_date) == "1970-05-06"


def test_corrupt_xlsx_is_refused(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    assert problems_of(official, election, b"PK\x03\x04not really a zip", now, "roll.xlsx") == [(0, "", "file_not_xlsx")]


def test_roll_is_locked_once_tokens_are_issued(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    TokenBatch.objects.create(election=election, station=station, started_by=official, started_at=now)
    with pytest.raises(RollLocked):
        run(official, election, to_csv(roll_rows(1, ["suwon-1"])), now)


def test_roll_cannot_change_after_opening(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    Election.objects.filter(pk=election.pk).update(status="open")
    election.refresh_from_db()
    with pytest.raises(ElectionWrongStatus):
        run(official, election, to_csv(roll_rows(1, ["suwon-1"])), now)


@pytest.mark.slow
def test_100k_rows_import_with_progress(official: User, election: Election, station: PollingStation, station2: PollingStation, now: datetime) -> None:
    """A province-sized file imports completely and reports progress for both stages (its speed is a benchmark matter)."""
    data = to_csv(roll_rows(100_000, ["suwon-1", "yongin-1"]))
    seen: list[tuple[str, int, int]] = []
    report = import_roll(official, election, file_name="big.csv", data=data, now=now,
                         progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert report.imported == 100_000
    assert VoterRollEntry.objects.filter(election=election).count() == 100_000
    assert ("validate", 100_000, 100_000) in seen and ("write", 100_000, 100_000) in seen
