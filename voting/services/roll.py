"""Importing the voter roll: validate every row first, then write all rows in one transaction or none.

A bad file produces a report of every problem (line, column, reason) and imports nothing;
the report is kept as a rejected ``RollImport`` so the official can read or download it.
Duplicates are found inside the file (roll number, national id) and against the roll
already imported. Phone numbers and national ids are kept only as keyed hashes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import lifecycle, pii
from ..errors import RollFileInvalid, RollLocked
from ..models import Election, PollingStation, RollImport, TokenBatch, VoterRollEntry
from ..roll_file import COLUMNS, REQUIRED_COLUMNS, RollFileUnreadable, RollTable, normalise_header, read_roll_file
from .audit import record_action

Progress = Callable[[str, int, int], None]
BULK_BATCH = 2000
PROGRESS_EVERY = 5000
VOTING_AGE = 18
MAX_NAME = 100
MAX_ROLL_NUMBER = 32
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y.%m.%d", "%Y/%m/%d")


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    code: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "code": self.code, "message": self.message}


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def parse_birth_date(text: str) -> date | None:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS[1:]:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def compute_age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def birth_date_of_national_id(national_id: str) -> date | None:
    """The birth date encoded in a resident registration number (YYMMDD + century digit)."""
    century = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}.get(national_id[6])
    if century is None:
        return None
    try:
        return date(century + int(national_id[0:2]), int(national_id[2:4]), int(national_id[4:6]))
    except ValueError:
        return None


class RollValidator:
    """Validates rows one by one, remembering what it saw to find duplicates."""

    def __init__(self, election: Election, stations: dict[str, PollingStation]) -> None:
        self.election = election
        self.stations = stations
        self.election_day = election.opens_at.date()
        existing = VoterRollEntry.objects.filter(election=election)
        self.known_numbers = set(existing.values_list("roll_number", flat=True))
        self.known_ids = set(existing.exclude(national_id_hmac="").values_list("national_id_hmac", flat=True))
        self.seen_numbers: dict[str, int] = {}
        self.seen_ids: dict[str, int] = {}

    def check_header(self, header: list[str]) -> tuple[dict[str, int], list[RowProblem]]:
        problems: list[RowProblem] = []
        positions: dict[str, int] = {}
        for index, raw in enumerate(header):
            column = normalise_header(raw)
            if column not in COLUMNS:
                problems.append(RowProblem(1, raw, "unknown_column", _("Unknown column. Expected: %(columns)s.") % {"columns": ", ".join(COLUMNS)}))
            elif column in positions:
                problems.append(RowProblem(1, raw, "duplicate_column", _("This column appears twice.")))
            else:
                positions[column] = index
        for column in REQUIRED_COLUMNS:
            if column not in positions:
                problems.append(RowProblem(1, column, "missing_column", _("Required column is missing.")))
        return positions, problems

    def check_row(self, line: int, cells: list[str], positions: dict[str, int], width: int) -> tuple[VoterRollEntry | None, list[RowProblem]]:
        problems: list[RowProblem] = []

        def fail(column: str, code: str, message: str) -> None:
            problems.append(RowProblem(line, column, code, message))

        if len(cells) != width:
            fail("", "wrong_cell_count", _("Expected %(expected)d cells, found %(found)d.") % {"expected": width, "found": len(cells)})
            return None, problems
        value = {column: cells[index].strip() for column, index in positions.items()}
        for column in REQUIRED_COLUMNS:
            if not value[column]:
                fail(column, "required", _("This value is required."))
        roll_number, name = value["roll_number"], value["name"]
        if len(roll_number) > MAX_ROLL_NUMBER:
            fail("roll_number", "too_long", _("At most %(max)d characters.") % {"max": MAX_ROLL_NUMBER})
        elif roll_number in self.known_numbers:
            fail("roll_number", "duplicate_existing", _("This roll number is already on the roll."))
        elif roll_number and roll_number in self.seen_numbers:
            fail("roll_number", "duplicate_in_file", _("Duplicate of line %(line)d.") % {"line": self.seen_numbers[roll_number]})
        elif roll_number:
            self.seen_numbers[roll_number] = line
        if len(name) > MAX_NAME:
            fail("name", "too_long", _("At most %(max)d characters.") % {"max": MAX_NAME})
        birth = self._check_birth(value["birth_date"], fail)
        station = self.stations.get(value["station"].lower()) if value["station"] else None
        if value["station"] and station is None:
            fail("station", "unknown_station", _("No polling station has this code."))
        phone_hmac = self._check_phone(value.get("phone", ""), fail)
        id_hmac = self._check_national_id(value.get("national_id", ""), birth, line, fail)
        if problems or birth is None or station is None:
            return None, problems
        entry = VoterRollEntry(
            election=self.election, roll_number=roll_number, name=name, birth_date=birth, station=station,
            phone_hmac=phone_hmac, national_id_hmac=id_hmac,
        )
        return entry, problems

    def _check_birth(self, text: str, fail: Callable[[str, str, str], None]) -> date | None:
        if not text:
            return None
        birth = parse_birth_date(text)
        if birth is None:
            fail("birth_date", "invalid_date", _("Not a date; use YYYY-MM-DD."))
        elif birth > self.election_day:
            fail("birth_date", "future_date", _("The birth date is after election day."))
        elif compute_age(birth, self.election_day) < VOTING_AGE:
            fail("birth_date", "under_age", _("Under %(age)d on election day.") % {"age": VOTING_AGE})
        elif compute_age(birth, self.election_day) > 130:
            fail("birth_date", "implausible_date", _("The birth date is implausibly early."))
        else:
            return birth
        return None

    def _check_phone(self, text: str, fail: Callable[[str, str, str], None]) -> str:
        if not text:
            return ""
        phone = pii.normalise_phone(text)
        if phone is None:
            fail("phone", "invalid_phone", _("Not a Korean mobile number (010-1234-5678)."))
            return ""
        return pii.compute_phone_hmac(phone)

    def _check_national_id(self, text: str, birth: date | None, line: int, fail: Callable[[str, str, str], None]) -> str:
        if not text:
            return ""
        national_id = pii.normalise_national_id(text)
        if national_id is None:
            fail("national_id", "invalid_national_id", _("Not a resident registration number (YYMMDD-NNNNNNN)."))
            return ""
        if birth is not None and birth_date_of_national_id(national_id) != birth:
            fail("national_id", "national_id_birth_mismatch", _("Does not match the birth date."))
        digest = pii.compute_national_id_hmac(national_id)
        if digest in self.known_ids:
            fail("national_id", "duplicate_existing", _("A voter with this ID number is already on the roll."))
        elif digest in self.seen_ids:
            fail("national_id", "duplicate_in_file", _("Same ID number as line %(line)d.") % {"line": self.seen_ids[digest]})
        else:
            self.seen_ids[digest] = line
        return digest


def validate_roll_table(election: Election, table: RollTable, progress: Progress) -> tuple[list[VoterRollEntry], list[RowProblem]]:
    stations = {station.code: station for station in PollingStation.objects.all()}
    validator = RollValidator(election, stations)
    positions, problems = validator.check_header(table.header)
    if problems:
        return [], problems
    entries: list[VoterRollEntry] = []
    total = len(table.rows)
    for done, (line, cells) in enumerate(table.rows, start=1):
        entry, row_problems = validator.check_row(line, cells, positions, len(table.header))
        if row_problems:
            problems.extend(row_problems)
        elif entry is not None:
            entries.append(entry)
        if done % PROGRESS_EVERY == 0:
            progress("validate", done, total)
    progress("validate", total, total)
    if not table.rows and not problems:
        problems.append(RowProblem(2, "", "no_rows", _("The file has a header but no voters.")))
    return entries, problems


def validate_roll_unlocked(election: Election) -> None:
    lifecycle.validate_activity(election.status, "import_roll")
    if TokenBatch.objects.filter(election=election).exists():
        raise RollLocked(detail={"election": election.pk})


def import_roll(
    actor: AbstractBaseUser, election: Election, *, file_name: str, data: bytes, now: datetime,
    progress: Progress = _no_progress,
) -> RollImport:
    """Import every row or none; raise RollFileInvalid (with the saved report's id) if any row is bad."""
    validate_roll_unlocked(election)
    started = time.monotonic()
    digest = hashlib.sha256(data).hexdigest()
    try:
        table = read_roll_file(data, file_name)
    except RollFileUnreadable as exc:
        entries, problems = [], [RowProblem(0, "", exc.code, exc.message)]
        table = RollTable([], [])
    else:
        entries, problems = validate_roll_table(election, table, progress)
    report = RollImport(
        election=election, file_name=file_name[:255], file_sha256=digest, rows=len(table.rows),
        created_by=actor, created_at=now,
    )
    if problems:
        report.outcome, report.errors, report.error_count = RollImport.Outcome.REJECTED, [p.to_dict() for p in problems], len(problems)
        report.duration_ms = int((time.monotonic() - started) * 1000)
        report.save()
        record_action(actor, "roll_rejected", now, election=election, file_sha256=digest, problems=len(problems))
        raise RollFileInvalid(detail={"import_id": report.pk, "error_count": len(problems), "errors": report.errors[:100]})
    try:
        with transaction.atomic():
            _write_entries(actor, election, entries, report, now, progress)
    except IntegrityError as exc:  # a concurrent import added the same roll number or ID meanwhile
        problem = RowProblem(0, "", "concurrent_change", _("The roll changed during the import; upload the file again."))
        raise RollFileInvalid(detail={"error_count": 1, "errors": [problem.to_dict()]}) from exc
    report.duration_ms = int((time.monotonic() - started) * 1000)
    RollImport.objects.filter(pk=report.pk).update(duration_ms=report.duration_ms)
    return report


def _write_entries(
    actor: AbstractBaseUser, election: Election, entries: list[VoterRollEntry], report: RollImport,
    now: datetime, progress: Progress,
) -> None:
    validate_roll_unlocked(Election.objects.get(pk=election.pk))
    for start in range(0, len(entries), BULK_BATCH):
        VoterRollEntry.objects.bulk_create(entries[start : start + BULK_BATCH])
        progress("write", min(start + BULK_BATCH, len(entries)), len(entries))
    report.outcome, report.imported = RollImport.Outcome.IMPORTED, len(entries)
    report.save()
    record_action(actor, "roll_imported", now, election=election, file_sha256=report.file_sha256, rows=len(entries))



def clear_roll(actor: AbstractBaseUser, election: Election, now: datetime) -> int:
    """Remove the whole roll before any token is issued (to re-import a corrected file)."""
    with transaction.atomic():
        validate_roll_unlocked(election)
        deleted, _detail = VoterRollEntry.objects.filter(election=election).delete()
        record_action(actor, "roll_cleared", now, election=election, rows=deleted)
    return deleted
