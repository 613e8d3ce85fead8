"""Roll import: a manager uploads CSV rows (name, phone, node) and the people become members.

All or nothing: every row is checked before anything is written, errors name the row (the
file's line number, header = 1), the field and a stable code, and one bad row means nothing
is imported. `node` is a slash-separated path of short names below the node the manager is
importing into ("" or "/" = that node itself; "suwon/jangan" = two levels down). Phone numbers
are hashed with the roll key (voting.pii) at once and never stored or logged in clear. A phone
number already known (from an earlier import or an SMS join) is the same member: the existing
name is kept and only the missing memberships are added, so importing a file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from voting import pii

from ..errors import RollInvalid, RollTooLarge
from ..models import Community, Member, Membership
from .tree import User, subtree, validate_manager

MAX_ROLL_BYTES = 5 * 1024 * 1024
MAX_ROLL_ROWS = 50_000
MAX_ERRORS_LISTED = 200
HEADER = ("name", "phone", "node")
BATCH = 1000


@dataclass(frozen=True)
class RollImportResult:
    rows: int
    members_created: int
    memberships_created: int
    already_members: int


@dataclass(frozen=True)
class _Row:
    line: int
    name: str
    phone_hmac: str
    community_id: int


def import_roll(by_user: User, community: Community, data: bytes) -> RollImportResult:
    """Validate the whole file, then add its members to the named nodes in one transaction."""
    validate_manager(by_user, community)
    if len(data) > MAX_ROLL_BYTES:
        raise RollTooLarge(detail={"max_bytes": MAX_ROLL_BYTES})
    rows = _parse(data, _relative_paths(community))
    try:
        with transaction.atomic():
            return _write(rows)
    except IntegrityError as exc:  # a concurrent join took a phone number between check and insert
        raise RollInvalid(detail={"errors": [{"row": None, "field": None, "code": "concurrent_change"}],
                                  "error_count": 1}) from exc


def _relative_paths(community: Community) -> dict[str, int]:
    """Every node of the subtree by its slug path relative to `community` ("" = the node itself)."""
    paths: dict[int, str] = {}
    by_path: dict[str, int] = {}
    for node in subtree(community).order_by("depth").only("pk", "parent_id", "slug"):
        rel = "" if node.pk == community.pk else f"{paths[node.parent_id]}/{node.slug}".lstrip("/")  # type: ignore[index]
        paths[node.pk] = rel
        by_path[rel] = node.pk
    return by_path


def _parse(data: bytes, nodes: dict[str, int]) -> list[_Row]:
    errors: list[dict[str, Any]] = []

    def fail(line: int | None, field: str | None, code: str) -> None:
        errors.append({"row": line, "field": field, "code": code})

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RollInvalid(detail={"errors": [{"row": None, "field": None, "code": "not_utf8"}],
                                  "error_count": 1}) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as exc:
        raise RollInvalid(detail={"errors": [{"row": reader.line_num, "field": None, "code": "csv_malformed"}],
                                  "error_count": 1}) from exc
    if not records or tuple(cell.strip().lower() for cell in records[0]) != HEADER:
        raise RollInvalid(detail={"errors": [{"row": 1, "field": None, "code": "header_wrong"}], "error_count": 1,
                                  "expected_header": ",".join(HEADER)})
    if len(records) - 1 > MAX_ROLL_ROWS:
        raise RollTooLarge(detail={"max_rows": MAX_ROLL_ROWS})
    rows: list[_Row] = []
    seen: dict[tuple[str, int], int] = {}
    names: dict[str, str] = {}
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # blank lines (a trailing newline) are not rows
        if len(record) != len(HEADER):
            fail(line, None, "columns_wrong")
            continue
        name, raw_phone, raw_node = (cell.strip() for cell in record)
        row_ok = True
        if not name:
            fail(line, "name", "name_missing"); row_ok = False  # noqa: E702
        elif len(name) > 100:
            fail(line, "name", "name_too_long"); row_ok = False  # noqa: E702
        phone = pii.normalise_phone(raw_phone)
        if phone is None:
            fail(line, "phone", "phone_invalid"); row_ok = False  # noqa: E702
        node_id = nodes.get(raw_node.strip("/"))
        if node_id is None:
            fail(line, "node", "node_unknown"); row_ok = False  # noqa: E702
        if not row_ok or phone is None or node_id is None:
            continue
        phone_hmac = pii.compute_phone_hmac(phone)
        if names.setdefault(phone_hmac, name) != name:
            fail(line, "name", "phone_name_conflict")  # one phone is one person
            continue
        if (phone_hmac, node_id) in seen:
            fail(line, None, "duplicate_row")
            continue
        seen[(phone_hmac, node_id)] = line
        rows.append(_Row(line, name, phone_hmac, node_id))
    if errors:
        raise RollInvalid(detail={"errors": errors[:MAX_ERRORS_LISTED], "error_count": len(errors)})
    if not rows:
        raise RollInvalid(detail={"errors": [{"row": None, "field": None, "code": "roll_empty"}], "error_count": 1})
    return rows


def _write(rows: list[_Row]) -> RollImportResult:
    hmacs = list({row.phone_hmac: None for row in rows})
    members: dict[str, int] = {}
    for start in range(0, len(hmacs), BATCH):
        members.update(Member.objects.filter(phone_hmac__in=hmacs[start:start + BATCH]).values_list("phone_hmac", "pk"))
    first_name: dict[str, str] = {}
    for row in rows:
        first_name.setdefault(row.phone_hmac, row.name)
    new = [Member(display_name=first_name[h], phone_hmac=h) for h in hmacs if h not in members]
    Member.objects.bulk_create(new, batch_size=BATCH)
    missing = [m.phone_hmac for m in new if m.pk is None]  # backends that cannot return ids from a bulk insert
    members.update({m.phone_hmac: m.pk for m in new if m.pk is not None})
    for start in range(0, len(missing), BATCH):
        members.update(Member.objects.filter(phone_hmac__in=missing[start:start + BATCH])
                       .values_list("phone_hmac", "pk"))
    member_ids = list(set(members.values()))
    existing: set[tuple[int, int]] = set()
    community_ids = {row.community_id for row in rows}
    for start in range(0, len(member_ids), BATCH):
        existing.update(Membership.objects.filter(
            member_id__in=member_ids[start:start + BATCH], community_id__in=community_ids,
        ).values_list("member_id", "community_id"))
    to_add = [
        Membership(member_id=members[row.phone_hmac], community_id=row.community_id,
                   joined_via=Membership.JoinedVia.ROLL)
        for row in rows if (members[row.phone_hmac], row.community_id) not in existing
    ]
    Membership.objects.bulk_create(to_add, batch_size=BATCH)
    return RollImportResult(rows=len(rows), members_created=len(new), memberships_created=len(to_add),
                            already_members=len(rows) - len(to_add))


def describe_roll_error(error: dict[str, Any]) -> str:
    """A sentence for one row error (the UI lists these; the API returns the codes)."""
    messages = {
        "not_utf8": _("The file is not UTF-8 text."),
        "csv_malformed": _("The file is not valid CSV."),
        "header_wrong": _("The first line must be: name,phone,node"),
        "columns_wrong": _("The row must have exactly three columns."),
        "name_missing": _("The name is missing."),
        "name_too_long": _("The name is longer than 100 characters."),
        "phone_invalid": _("The phone number is not a Korean mobile number."),
        "node_unknown": _("No node with this path below this node."),
        "phone_name_conflict": _("The same phone number appears with a different name."),
        "duplicate_row": _("The same person appears twice for the same node."),
        "roll_empty": _("The file has no rows."),
        "concurrent_change": _("Someone joined with one of these phone numbers meanwhile; import again."),
    }
    text = messages.get(str(error.get("code")), str(error.get("code")))
    return _("Line %(row)s: %(text)s") % {"row": error["row"], "text": text} if error.get("row") else text
