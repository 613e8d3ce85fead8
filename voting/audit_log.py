"""The officials' audit log as a signed hash chain: record bodies, the signing key, verification, export.

Why a chain and a signature: the audit table lives in the web app's database, which the
officials' own staff administer. Each record's canonical JSON body names its sequence
number and the previous record's hash, its hash is SHA-256 of the body, and this server's
audit-log key (P-256, a 0600 file next to the other server keys, never in the database)
signs the body. Editing, deleting or reordering a record breaks a hash, the chain or a
signature; rewriting the chain wholesale needs the key, and even then the heads published
on the ledger (``voting.audit_log_anchor``) no longer match.

Canonical body: JSON with sorted keys, no insignificant whitespace, UTF-8 (not ASCII
escapes), no floats; ``at`` is the UTC time in ISO 8601 with microseconds. The signature is
ECDSA P-256 with SHA-256 over the body bytes, raw r||s low-S hex, as on the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from ledger.core.crypto import PrivateKey, is_valid_signature

LOG_LABEL = "officials-log"
KEY_LABEL = "officials-log-key"
GENESIS_PREV = "0" * 64
BODY_VERSION = 1
SIGNATURE_ALGORITHM = "ECDSA P-256 SHA-256, raw r||s low-S, over the body bytes"
_key_lock = threading.Lock()


# --- the key -------------------------------------------------------------------------------


def get_key_path() -> Path:
    raw = getattr(settings, "VOTING", {}).get("AUDIT_LOG_KEY_FILE") or "var/keys/official-log.pem"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def _write_new_key(path: Path) -> None:
    """Create the key file with mode 0600; hard-linking into place lets exactly one process win a race."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(PrivateKey.generate().to_pem())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def _load_key(path: Path) -> PrivateKey:
    return PrivateKey.from_pem(path.read_bytes())


def get_signing_key(*, create: bool = True) -> PrivateKey:
    """The server's audit-log key, generated on first use (its public half is anchored on the ledger)."""
    path = get_key_path()
    with _key_lock:
        if create and not path.exists():
            _write_new_key(path)
    return _load_key(path)


def get_public_key_hex() -> str:
    return get_signing_key().public_key.hex()


def compute_key_fingerprint(public_key: bytes) -> str:
    """SHA-256 of the uncompressed public key: what the ledger's ``officials-log-key`` anchor holds."""
    return hashlib.sha256(public_key).hexdigest()


# --- bodies --------------------------------------------------------------------------------


def encode_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def normalise_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail exactly as JSON keeps it (tuples become lists), so body and column compare equal."""
    result: dict[str, Any] = json.loads(json.dumps(detail, allow_nan=False))
    return result


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_body(
    *, seq: int, prev_hash: str, at: datetime, actor_id: int, username: str, role: str, action: str,
    election_id: int | None, election_ledger_id: str | None, detail: dict[str, Any],
) -> dict[str, Any]:
    election = None if election_id is None else {"id": election_id, "ledger_id": election_ledger_id}
    return {
        "v": BODY_VERSION, "seq": seq, "prev": prev_hash, "at": format_time(at),
        "actor": {"id": actor_id, "username": username, "role": role},
        "action": action, "election": election, "detail": detail,
    }


@dataclass(frozen=True)
class SealedRecord:
    seq: int
    prev_hash: str
    body: str
    record_hash: str
    signature: str


def seal(body: dict[str, Any], key: PrivateKey) -> SealedRecord:
    data = encode_body(body)
    return SealedRecord(body["seq"], body["prev"], data.decode(), hashlib.sha256(data).hexdigest(), key.sign(data).hex())


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRecord:
    """One record as read back: the signed part, plus the row's columns when read from the database."""

    seq: int | None
    prev_hash: str
    body: str
    record_hash: str
    signature: str
    columns: dict[str, Any] | None = None
    row_id: int | None = None


@dataclass
class Verification:
    """The outcome: ``ok``, or the first problem with the first bad sequence number it concerns."""

    records: int = 0
    head_seq: int = -1
    head_hash: str = ""
    problem: str = ""  # snake_case code, empty when ok
    message: str = ""
    first_bad_seq: int | None = None
    anchors_checked: int = 0
    anchors_note: str = ""
    hash_to_seq: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problem

    def fail(self, problem: str, message: str, seq: int | None) -> "Verification":
        if not self.problem:
            self.problem, self.message, self.first_bad_seq = problem, message, seq
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "records": self.records, "head_seq": self.head_seq, "head_hash": self.head_hash,
            "problem": self.problem, "message": self.message, "first_bad_seq": self.first_bad_seq,
            "anchors_checked": self.anchors_checked, "anchors_note": self.anchors_note,
        }


def _check_columns(record: LogRecord, body: dict[str, Any]) -> str:
    """Which queryable column disagrees with the signed body ('' if none)."""
    columns = record.columns or {}
    election = body.get("election") or {}
    expected = {
        "action": body.get("action"), "actor_id": (body.get("actor") or {}).get("id"),
        "election_id": election.get("id"), "detail": body.get("detail"), "at": body.get("at"),
    }
    for name, value in expected.items():
        if name in columns and columns[name] != value:
            return name
    return ""


def _check_record(record: LogRecord, expected_seq: int, prev_hash: str, public_key: bytes) -> tuple[str, str]:
    """(problem, message) for one record in chain position ``expected_seq``; ('', '') when it is sound."""
    if record.seq is None:
        return "unsealed_record", f"row id {record.row_id} has no sequence number"
    if record.seq != expected_seq:
        return "sequence_gap", f"expected record {expected_seq}, found {record.seq} (a record is missing or moved)"
    data = record.body.encode()
    try:
        body = json.loads(data)
    except ValueError:
        return "bad_body", f"record {record.seq}: the body is not JSON"
    if not isinstance(body, dict) or body.get("seq") != record.seq or body.get("prev") != record.prev_hash:
        return "body_mismatch", f"record {record.seq}: the body names another position in the chain"
    if record.prev_hash != prev_hash:
        return "chain_broken", f"record {record.seq} does not follow the previous record's hash"
    if hashlib.sha256(data).hexdigest() != record.record_hash:
        return "hash_mismatch", f"record {record.seq}: the body does not hash to the recorded hash"
    try:
        signature = bytes.fromhex(record.signature)
    except ValueError:
        signature = b""
    if not is_valid_signature(public_key, signature, data):
        return "bad_signature", f"record {record.seq}: the signature does not verify with the audit-log key"
    column = _check_columns(record, body)
    if column:
        return "column_mismatch", f"record {record.seq}: the {column} column differs from the signed body"
    return "", ""


def verify_chain(records: Iterable[LogRecord], public_key: bytes, *, head: tuple[int, str] | None = None) -> Verification:
    """Check order, chain, hashes, signatures and columns of ``records`` (ascending seq) and the head row."""
    result = Verification()
    prev_hash = GENESIS_PREV
    expected = 0
    for record in records:
        problem, message = _check_record(record, expected, prev_hash, public_key)
        if problem:
            return result.fail(problem, message, expected if record.seq is None else min(expected, record.seq))
        result.hash_to_seq[record.record_hash] = expected
        prev_hash = record.record_hash
        expected += 1
    result.records, result.head_seq, result.head_hash = expected, expected - 1, prev_hash if expected else ""
    if head is not None and head != (result.head_seq, result.head_hash):
        result.fail("head_mismatch", f"the head row says record {head[0]} is the latest, the table ends at "
                    f"{result.head_seq} (records were removed from the end, or added without the head)",
                    min(head[0], result.head_seq) + 1)
    return result


def check_anchors(result: Verification, anchors: Iterable[tuple[int, str]]) -> Verification:
    """Every ledger anchor ``(anchor_seq, hash)`` must name a record, in increasing record order."""
    last_seq = -1
    for anchor_seq, anchored_hash in anchors:
        seq = result.hash_to_seq.get(anchored_hash)
        if seq is None or seq < last_seq:
            return result.fail(
                "anchor_mismatch",
                f"ledger anchor {anchor_seq} ({anchored_hash[:16]}…) matches no record in order: the log was "
                f"rewritten after record {last_seq}",
                last_seq + 1,
            )
        last_seq = seq
        result.anchors_checked += 1
    return result


# --- export --------------------------------------------------------------------------------


def iter_export_lines(records: Iterable[LogRecord], public_key: bytes, head: tuple[int, str]) -> Iterator[str]:
    """JSON Lines: a header with the public key and head, then one signed record per line."""
    header = {
        "log": LOG_LABEL, "public_key": public_key.hex(), "key_fingerprint": compute_key_fingerprint(public_key),
        "signature_algorithm": SIGNATURE_ALGORITHM, "head_seq": head[0], "head_hash": head[1],
    }
    yield json.dumps(header, sort_keys=True, ensure_ascii=False) + "\n"
    for record in records:
        line = {"seq": record.seq, "prev_hash": record.prev_hash, "record_hash": record.record_hash,
                "signature": record.signature, "body": record.body}
        yield json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n"


def parse_export(lines: Iterable[str]) -> tuple[bytes, tuple[int, str], list[LogRecord]]:
    """The public key, head and records of an export (raises ValueError on a malformed file)."""
    iterator = iter(lines)
    header = json.loads(next(iterator))
    public_key = bytes.fromhex(str(header["public_key"]))
    head = (int(header["head_seq"]), str(header["head_hash"]))
    records = []
    for line in iterator:
        if not line.strip():
            continue
        item = json.loads(line)
        records.append(LogRecord(item["seq"], str(item["prev_hash"]), str(item["body"]), str(item["record_hash"]),
                                 str(item["signature"])))
    return public_key, head, records
