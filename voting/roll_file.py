"""Reading a voter-roll file (CSV or XLSX) into header + rows of text, with the line each row came from.

Pure functions, no database: ``voting.services.roll`` validates the cells. CSV is read as
UTF-8 (with or without BOM) and falls back to CP949, the encoding Korean Excel writes.
Headers may be English (``roll_number``) or Korean (``선거인번호``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _

MAX_FILE_BYTES = 64 * 1024 * 1024
# Columns read from an XLSX sheet (the roll has six). openpyxl pads every missing row up to the
# sheet's declared width: a 5 KB file claiming A1:XFD1048576 made that 16,384 cells per row for
# a million rows (minutes of CPU, found by tests/fuzz/test_uploads.py). Cells further right are not read.
MAX_XLSX_COLUMNS = 64
XLSX_MAGIC = b"PK\x03\x04"

REQUIRED_COLUMNS = ("roll_number", "name", "birth_date", "station")
OPTIONAL_COLUMNS = ("phone", "national_id")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
HEADER_ALIASES: dict[str, str] = {
    **{name: name for name in COLUMNS},
    "선거인번호": "roll_number",
    "번호": "roll_number",
    "성명": "name",
    "이름": "name",
    "생년월일": "birth_date",
    "투표소": "station",
    "투표소코드": "station",
    "휴대전화": "phone",
    "휴대전화번호": "phone",
    "전화번호": "phone",
    "주민등록번호": "national_id",
}


class RollFileUnreadable(Exception):
    """The file as a whole cannot be read (encoding, format); carries a code for the report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RollTable:
    header: list[str]  # as written in the file
    rows: list[tuple[int, list[str]]]  # (line or spreadsheet row number, cells as text)


def normalise_header(cell: str) -> str:
    key = cell.strip().lower().replace(" ", "_").replace("-", "_")
    return HEADER_ALIASES.get(key, HEADER_ALIASES.get(cell.strip(), key))


def read_roll_file(data: bytes, file_name: str) -> RollTable:
    """Parse CSV or XLSX bytes; raise RollFileUnreadable if the file cannot be read at all."""
    if len(data) > MAX_FILE_BYTES:
        raise RollFileUnreadable("file_too_large", _("The file is larger than %(mb)d MB.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)})
    if not data.strip():
        raise RollFileUnreadable("file_empty", _("The file is empty."))
    if data.startswith(XLSX_MAGIC) or file_name.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    return _read_csv(data)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError as exc:
        raise RollFileUnreadable(
            "file_encoding", _("The file is neither UTF-8 nor CP949 (EUC-KR) text; save it as CSV UTF-8.")
        ) from exc


def _read_csv(data: bytes) -> RollTable:
    text = _decode(data)
    if "\x00" in text:
        raise RollFileUnreadable("file_not_csv", _("The file is not a CSV text file."))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        if header is None:
            raise RollFileUnreadable("file_empty", _("The file is empty."))
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise RollFileUnreadable("file_not_csv", _("CSV syntax error near line %(line)d: %(error)s") % {"line": reader.line_num, "error": exc}) from exc
    return RollTable(header=header, rows=rows)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes) -> RollTable:
    from openpyxl import load_workbook  # imported lazily: only XLSX uploads need it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a corrupt file
        raise RollFileUnreadable("file_not_xlsx", _("The file is not a readable XLSX workbook.")) from exc
    try:
        sheet = workbook.worksheets[0]
        iterator: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True, max_col=MAX_XLSX_COLUMNS)
        first = next(iterator, None)
        if first is None:
            raise RollFileUnreadable("file_empty", _("The first sheet is empty."))
        header = [_cell_text(cell) for cell in first]
        while header and not header[-1].strip():
            header.pop()
        rows: list[tuple[int, list[str]]] = []
        for number, values in enumerate(iterator, start=2):
            cells = [_cell_text(cell) for cell in values[: max(len(header), 1)]]
            extra = [cell for cell in values[len(header) :] if cell not in (None, "")]
            if any(cell.strip() for cell in cells) or extra:
                rows.append((number, cells + [_cell_text(cell) for cell in extra]))
        return RollTable(header=header, rows=rows)
    finally:
        workbook.close()
