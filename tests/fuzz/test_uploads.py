"""Oversized and malformed uploads: a typed 4xx or a typed import problem, never a 5xx, nothing half-written.

Uploads found by grepping FileField / request.FILES: the voter roll (CSV or XLSX, officials'
UI, voting/roll_file.py) and the communities roll (not covered here: that app is being built
by another helper). No ImageField exists. JSON bodies go to every API: Django's
DATA_UPLOAD_MAX_MEMORY_SIZE for the web app, the node's own 32 MiB limit (test_api_schemathesis).

"Nothing half-written" is checked over every model in the project: the row counts of all
tables are equal before and after each refused upload, except the one ``RollImport`` report
a refused roll import writes on purpose (the official's list of problems).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.worksheet import _read_only

from tests.kiosk.support import Booth, KioskClient, setup_booth
from tests.mobile.conftest import mobile_settings
from tests.voting.factories import HEADER, roll_rows, to_csv
from voting.errors import RollFileInvalid
from voting.models import Election, PollingStation, VoterRollEntry
from voting.roll_file import (
    MAX_FILE_BYTES,
    MAX_XLSX_COLUMNS,
    RollFileUnreadable,
    read_roll_file,
)
from voting.services.roll import import_roll

from .budget import examples

pytestmark = pytest.mark.django_db
FILE_CODES = {"file_empty", "file_encoding", "file_not_csv", "file_not_xlsx", "file_too_large", "missing_column",
              "unknown_column", "duplicate_column", "no_rows", "wrong_cell_count", "required", "too_long",
              "duplicate_in_file", "duplicate_existing", "unknown_station", "future_date", "implausible_date",
              "invalid_date", "under_age", "invalid_phone", "invalid_national_id", "national_id_birth_mismatch",
              "concurrent_change"}
# What a refused import writes on purpose: its report, and the official's signed audit trail of it.
REFUSAL_RECORDS = ("voting.RollImport", "voting.Official")


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def changed_tables(before: dict[str, int], *, allowed: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    after = row_counts()
    return {label: (before[label], after[label]) for label in before
            if before[label] != after[label] and not label.startswith(allowed or ("\0",))}


def refused_problems(official: User, election: Election, data: bytes, now: datetime,
                     name: str = "roll.csv") -> list[str]:
    """Import ``data``; it must be refused as a whole. Returns the problem codes."""
    before = row_counts()
    with pytest.raises(RollFileInvalid) as info:
        import_roll(official, election, file_name=name, data=data, now=now)
    assert not VoterRollEntry.objects.filter(election=election).exists()
    # The refusal writes its report (and the audit line of it), nothing else.
    assert changed_tables(before, allowed=REFUSAL_RECORDS) == {}
    codes = [problem["code"] for problem in info.value.detail["errors"]]
    assert codes and set(codes) <= FILE_CODES, codes
    return codes


def good_rows(count: int = 3) -> list[tuple[str, ...]]:
    return roll_rows(count, ["suwon-1"])


# --- roll files: whole-file faults ------------------------------------------------------------------


MALFORMED = {
    "utf16_le_bom": codecs.BOM_UTF16_LE + to_csv(good_rows()).decode().encode("utf-16-le"),
    "utf16_be_bom": codecs.BOM_UTF16_BE + to_csv(good_rows()).decode().encode("utf-16-be"),
    "utf16_no_bom": to_csv(good_rows()).decode().encode("utf-16-le"),
    "utf32": to_csv(good_rows()).decode().encode("utf-32"),
    "png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "gzip": b"\x1f\x8b\x08\x00" + bytes(200),
    "zip_not_xlsx": b"PK\x03\x04" + bytes(100),
    "huge_line": b"roll_number,name,birth_date,station\nR1," + b"x" * 300_000 + b",1980-01-01,suwon-1\n",
    "ten_thousand_columns": (",".join(f"c{i}" for i in range(10_000)) + "\n" + "x," * 9_999 + "x\n").encode(),
    "header_only_bom": codecs.BOM_UTF8 + b"roll_number,name,birth_date,station\n",
    "million_blank_lines": b"roll_number,name,birth_date,station\n" + b"\n" * 1_000_000,
    "million_empty_rows": b"roll_number,name,birth_date,station\n" + b",,,\n" * 1_000_000,
    "unterminated_quote": b'roll_number,name,birth_date,station\nR1,"Kim,1980-01-01,suwon-1\n',
    "lone_cr_and_nul": b"roll_number,name,birth_date,station\rR1,K\x00im,1980-01-01,suwon-1\r",
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_roll_files_are_refused_whole_with_typed_problems(
    official: User, election: Election, station: PollingStation, now: datetime, data: bytes,
) -> None:
    refused_problems(official, election, data, now)


def test_a_file_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(RollFileUnreadable) as info:
        read_roll_file(b"a" * (MAX_FILE_BYTES + 1), "roll.csv")
    assert info.value.code == "file_too_large"


def test_bom_and_cp949_rolls_import_every_row(official: User, election: Election, station: PollingStation,
                                              now: datetime) -> None:
    rows = good_rows(2)
    text = to_csv(rows).decode()
    assert import_roll(official, election, file_name="a.csv", data=codecs.BOM_UTF8 + text.encode(), now=now).imported == 2
    korean = to_csv(roll_rows(2, ["suwon-1"], start=10), header=("선거인번호", "성명", "생년월일", "투표소",
                                                                  "휴대전화", "주민등록번호"))
    assert import_roll(official, election, file_name="b.csv", data=korean.decode().encode("cp949"),
                       now=now).imported == 2


def test_duplicate_rows_in_one_file_refuse_the_whole_file(official: User, election: Election,
                                                          station: PollingStation, now: datetime) -> None:
    rows = good_rows(3)
    assert "duplicate_in_file" in refused_problems(official, election, to_csv(rows + rows[:1]), now)


# --- roll files: generated bytes --------------------------------------------------------------------


@st.composite
def mangled_rolls(draw: Any) -> bytes:
    raw = bytearray(to_csv(good_rows(draw(st.integers(1, 4)))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["insert", "delete", "flip"]))
        if op == "insert":
            raw[at:at] = draw(st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xff", b"\xea\xb0", b"=1+2",
                                               b"\xef\xbb\xbf", b"@SUM(A1)", b"-", b"  "]) | st.binary(max_size=6))
        elif op == "delete":
            del raw[at:at + draw(st.integers(1, 10))]
        elif raw:
            raw[min(at, len(raw) - 1)] ^= draw(st.integers(1, 255))
    return bytes(raw)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(mangled_rolls(), st.binary(max_size=400)), name=st.sampled_from(["roll.csv", "roll.xlsx"]))
def test_any_bytes_import_whole_or_are_refused_whole(official: User, election: Election, station: PollingStation,
                                                     now: datetime, data: bytes, name: str) -> None:
    VoterRollEntry.objects.filter(election=election).delete()
    rows_in_file = None
    try:
        report = import_roll(official, election, file_name=name, data=data, now=now)
    except RollFileInvalid as exc:
        assert {p["code"] for p in exc.detail["errors"]} <= FILE_CODES
        assert not VoterRollEntry.objects.filter(election=election).exists()
        return
    rows_in_file = report.rows
    assert report.imported == rows_in_file == VoterRollEntry.objects.filter(election=election).count()


# --- roll files: spreadsheets and what comes back out -----------------------------------------------


def xlsx_claiming(dimension: str, far_row: int) -> bytes:
    """A tiny workbook whose sheet claims ``dimension`` and has one cell on row ``far_row``."""
    book = Workbook()
    sheet = book.active
    sheet.append(list(HEADER[:4]))
    sheet.append(list(good_rows(1)[0][:4]))
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+" ?/>', f'<dimension ref="{dimension}"/>'.encode(), data)
                data = data.replace(b"</sheetData>", f'<row r="{far_row}"><c r="A{far_row}" t="inlineStr"><is><t>'
                                    f"x</t></is></c></row></sheetData>".encode())
            target.writestr(item, data)
    return out.getvalue()


def test_a_sheet_claiming_16384_columns_is_read_only_as_wide_as_a_roll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found here: openpyxl pads every missing row to the declared width; a 5 KB file claiming
    A1:XFD1048576 made a million rows of 16,384 cells (minutes of CPU per upload)."""
    widest = [0]
    original = _read_only.ReadOnlyWorksheet._cells_by_row

    def measured(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for row in original(self, *args, **kwargs):
            widest[0] = max(widest[0], len(row))
            yield row

    monkeypatch.setattr(_read_only.ReadOnlyWorksheet, "_cells_by_row", measured)
    table = read_roll_file(xlsx_claiming("A1:XFD400", 400), "roll.xlsx")
    assert 0 < widest[0] <= MAX_XLSX_COLUMNS
    assert [cells[0] for _line, cells in table.rows] == [good_rows(1)[0][0], "x"]


FORMULAS = ["=HYPERLINK(\"http://evil.test\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_problem_report_csv_never_carries_a_live_formula_from_the_upload(
    official: User, election: Election, station: PollingStation, now: datetime, formula: str,
) -> None:
    header = ",".join([*HEADER[:4], '"' + formula.replace('"', '""') + '"'])
    data = (header + "\n" + ",".join(good_rows(1)[0][:4]) + ",x\n").encode()
    with pytest.raises(RollFileInvalid) as info:
        import_roll(official, election, file_name="roll.csv", data=data, now=now)
    client = Client()
    client.force_login(official)
    response = client.get(reverse("voting:roll_report_csv", args=[election.pk, info.value.detail["import_id"]]))
    assert response.status_code == 200
    cells = [cell for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) for cell in row]
    assert any(formula in cell for cell in cells), "the uploaded header should be reported"
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], cells


def test_roll_upload_over_64_mb_is_a_form_error_and_writes_nothing(
    official: User, election: Election, station: PollingStation,
) -> None:
    client = Client()
    client.force_login(official)
    before = row_counts()
    upload = io.BytesIO(b"roll_number,name,birth_date,station\n" + b"R," * (33 * 1024 * 1024))
    upload.name = "roll.csv"
    response = client.post(reverse("voting:roll", args=[election.pk]), {"file": upload})
    assert response.status_code == 400
    assert changed_tables(before) == {}


# --- JSON bodies over the web app's limit -----------------------------------------------------------


@pytest.fixture
def api_booth(settings: Any, tmp_path: Any, official: User, election: Election, station: PollingStation,
              station2: PollingStation, transport: Any, now: datetime) -> Booth:
    settings.MOBILE = mobile_settings(tmp_path)
    return setup_booth(official, election, {station: 1}, now)


# The credential endpoint checks the session token header first (no session: 401 before the body is
# read); every other one reads the body first and must refuse it by size.
JSON_POSTS = {"/api/v1/mobile/otp/request": 413, "/api/v1/mobile/otp/verify": 413,
              "/api/v1/mobile/credential": 401, "/api/v1/mobile/mint": 413, "/api/v1/mobile/vote": 413,
              "/kiosk/api/token-check": 413, "/kiosk/api/votes": 413}


@pytest.mark.parametrize(("path", "status"), list(JSON_POSTS.items()), ids=list(JSON_POSTS))
def test_json_bodies_over_the_limit_get_a_typed_413_and_change_nothing(api_booth: Booth, path: str,
                                                                       status: int) -> None:
    client = KioskClient(api_booth.credential)  # paired and with a CSRF token: the size check is what answers
    body = b'{"phone":"' + b"1" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    before = row_counts()
    response = client.post_raw(path, body)
    assert response.status_code == status, (path, response.status_code, response.content[:200])
    error = response.json()
    assert set(error) == {"code", "message", "detail"}
    assert error["code"] == "payload_too_large" if status == 413 else error["code"]
    assert changed_tables(before) == {}
