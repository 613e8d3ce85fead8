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

Key rotation: a ``log_key_rotated`` record, signed by the outgoing key, names the incoming
key (``old_public_key``, ``new_public_key``, ``new_key_fingerprint``); every later record is
signed by the incoming key. So the chain itself says which key signs which record, and a
verifier needs only the ordered key list (``public_keys`` in an export's header; derived
from the hand-over records and the key file for the database) to follow it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


from ledger.core.crypto import PrivateKey, is_valid_signature, load_public_key
from ledger.core.errors import InvalidPublicKey

from .audit_log_keys import (  # noqa: F401  (re-exported: callers use audit_log.<name>)
    AuditLogKeyError,
    AuditLogKeyMissing,
    AuditLogKeyInsecure,
    get_key_path,
    validate_key_file,
    install_new_key,
    restore_retired_key,
    remove_retired_key,
    _load_key,
    get_signing_key,
    get_public_key_hex,
    compute_key_fingerprint,
)

LOG_LABEL = "officials-log"
KEY_LABEL = "officials-log-key"
GENESIS_PREV = "0" * 64
BODY_VERSION = 1
EXPORT_FORMAT = 2  # 2: the header lists every key in order (``public_keys``); 1 had only ``public_key``
ROTATION_ACTION = "log_key_rotated"
SIGNATURE_ALGORITHM = "ECDSA P-256 SHA-256, raw r||s low-S, over the body bytes"


def build_handover_detail(old_public_key: bytes, new_public_key: bytes) -> dict[str, str]:
    """The detail of a ``log_key_rotated`` record: the outgoing key names its successor."""
    return {"old_public_key": old_public_key.hex(), "new_public_key": new_public_key.hex(),
            "new_key_fingerprint": compute_key_fingerprint(new_public_key)}


def read_handover(body: str) -> tuple[bytes, bytes] | None:
    """(old, new) public keys named by a hand-over record's body; None if it is not a readable hand-over."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("action") != ROTATION_ACTION:
            return None
        detail = data.get("detail") or {}
        return bytes.fromhex(str(detail["old_public_key"])), bytes.fromhex(str(detail["new_public_key"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


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
    # The keys in the order the chain used them, and the seq of each hand-over record (one fewer).
    public_keys: list[bytes] = field(default_factory=list, repr=False)
    handover_seqs: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problem

    def fail(self, problem: str, message: str, seq: int | None) -> "Verification":
        if not self.problem:
            self.problem, self.message, self.first_bad_seq = problem, message, seq
        return self

    def note(self, text: str) -> None:
        self.anchors_note = f"{self.anchors_note}; {text}" if self.anchors_note else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "records": self.records, "head_seq": self.head_seq, "head_hash": self.head_hash,
            "problem": self.problem, "message": self.message, "first_bad_seq": self.first_bad_seq,
            "anchors_checked": self.anchors_checked, "anchors_note": self.anchors_note,
            "key_fingerprints": [compute_key_fingerprint(key) for key in self.public_keys],
            "key_handover_seqs": self.handover_seqs,
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


def _check_record(
    record: LogRecord, expected_seq: int, prev_hash: str, public_key: bytes,
) -> tuple[str, str, dict[str, Any]]:
    """(problem, message, body) for one record in chain position ``expected_seq``; problem '' when it is sound."""
    if record.seq is None:
        return "unsealed_record", f"row id {record.row_id} has no sequence number", {}
    if record.seq != expected_seq:
        return "sequence_gap", f"expected record {expected_seq}, found {record.seq} (a record is missing or moved)", {}
    data = record.body.encode()
    try:
        body = json.loads(data)
    except ValueError:
        return "bad_body", f"record {record.seq}: the body is not JSON", {}
    if not isinstance(body, dict) or body.get("seq") != record.seq or body.get("prev") != record.prev_hash:
        return "body_mismatch", f"record {record.seq}: the body names another position in the chain", {}
    if record.prev_hash != prev_hash:
        return "chain_broken", f"record {record.seq} does not follow the previous record's hash", body
    if hashlib.sha256(data).hexdigest() != record.record_hash:
        return "hash_mismatch", f"record {record.seq}: the body does not hash to the recorded hash", body
    try:
        signature = bytes.fromhex(record.signature)
    except ValueError:
        signature = b""
    if not is_valid_signature(public_key, signature, data):
        return "bad_signature", f"record {record.seq}: the signature does not verify with the audit-log key", body
    column = _check_columns(record, body)
    if column:
        return "column_mismatch", f"record {record.seq}: the {column} column differs from the signed body", body
    return "", "", body


def _check_handover(body: dict[str, Any], current: bytes, expected_next: bytes | None) -> tuple[bytes, str]:
    """(the key handed over to, '') for a sound hand-over record signed by ``current``; (b'', why) otherwise."""
    detail = body.get("detail")
    if not isinstance(detail, dict):
        return b"", "the hand-over record has no key detail"
    try:
        old, new = bytes.fromhex(str(detail["old_public_key"])), bytes.fromhex(str(detail["new_public_key"]))
        load_public_key(new)
    except (KeyError, ValueError, InvalidPublicKey):
        return b"", "the hand-over record does not name a valid P-256 public key"
    if old != current:
        return b"", "the hand-over record names another outgoing key than the one that signed it"
    if new == current or detail.get("new_key_fingerprint") != compute_key_fingerprint(new):
        return b"", "the hand-over record's new key and fingerprint disagree (or the key does not change)"
    if expected_next is None:
        return b"", "the chain hands over to more keys than the key list names"
    if new != expected_next:
        return b"", "the chain hands over to another key than the next one in the key list"
    return new, ""


def verify_chain(records: Iterable[LogRecord], public_keys: bytes | Sequence[bytes], *,
                 head: tuple[int, str] | None = None) -> Verification:
    """Check order, chain, hashes, signatures, columns, key hand-overs and the head row of ``records`` (ascending seq).

    ``public_keys`` lists every key in order (one ``bytes`` is a list of one): records are
    checked against the first until a valid ``log_key_rotated`` record hands over to the
    next, and the chain must end on the last.
    """
    keys = [public_keys] if isinstance(public_keys, bytes) else list(public_keys)
    result = Verification(public_keys=keys[:1])
    if not keys:
        return result.fail("key_missing", "no audit-log public key to verify with", 0)
    prev_hash = GENESIS_PREV
    expected = 0
    for record in records:
        current = result.public_keys[-1]
        problem, message, body = _check_record(record, expected, prev_hash, current)
        if problem:
            return result.fail(problem, message, expected if record.seq is None else min(expected, record.seq))
        if body.get("action") == ROTATION_ACTION:
            position = len(result.public_keys)
            new, why = _check_handover(body, current, keys[position] if position < len(keys) else None)
            if why:
                return result.fail("key_handover_invalid", f"record {expected}: {why}", expected)
            result.public_keys.append(new)
            result.handover_seqs.append(expected)
        result.hash_to_seq[record.record_hash] = expected
        prev_hash = record.record_hash
        expected += 1
    result.records, result.head_seq, result.head_hash = expected, expected - 1, prev_hash if expected else ""
    if head is not None and head != (result.head_seq, result.head_hash):
        result.fail("head_mismatch", f"the head row says record {head[0]} is the latest, the table ends at "
                    f"{result.head_seq} (records were removed from the end, or added without the head)",
                    min(head[0], result.head_seq) + 1)
    if len(result.public_keys) != len(keys):
        result.fail("key_mismatch", f"the chain hands over to {len(result.public_keys) - 1} new key(s), the key "
                    f"list names {len(keys) - 1}: a hand-over record is missing, or the current key (the key "
                    "file, or the export's last key) is not the one the chain hands over to last",
                    result.head_seq + 1)
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


def check_key_anchors(result: Verification, key_anchors: Iterable[tuple[int, str]]) -> Verification:
    """Ledger key anchor n must be the fingerprint of the chain's n-th key; keys not yet anchored are noted."""
    fingerprints = [compute_key_fingerprint(key) for key in result.public_keys]
    anchored = 0
    for anchor_seq, digest in key_anchors:
        if anchor_seq >= len(fingerprints) or fingerprints[anchor_seq] != digest:
            position = min(anchor_seq, len(fingerprints) - 1)
            seq = 0 if position <= 0 else result.handover_seqs[position - 1]
            return result.fail("key_mismatch", f"ledger key anchor {anchor_seq} ({digest[:16]}…) is not the "
                               f"fingerprint of the log's key number {anchor_seq + 1} in order", seq)
        anchored = anchor_seq + 1
    if 0 < anchored < len(fingerprints):
        result.note(f"key hand-over at record {result.handover_seqs[anchored - 1]} not yet anchored on the ledger "
                    f"({len(fingerprints) - anchored} key fingerprint(s) pending)")
    return result


# --- export --------------------------------------------------------------------------------


def iter_export_lines(records: Iterable[LogRecord], public_keys: bytes | Sequence[bytes],
                      head: tuple[int, str]) -> Iterator[str]:
    """JSON Lines: a header with every public key in order and the head, then one signed record per line.

    ``public_key`` (the current key) stays in the header so that readers of format 1 still
    find a key; a verifier must follow ``public_keys`` through the hand-over records.
    """
    keys = [public_keys] if isinstance(public_keys, bytes) else list(public_keys)
    current = keys[-1] if keys else b""
    header = {
        "log": LOG_LABEL, "format": EXPORT_FORMAT, "public_keys": [key.hex() for key in keys],
        "key_fingerprints": [compute_key_fingerprint(key) for key in keys],
        "public_key": current.hex(), "key_fingerprint": compute_key_fingerprint(current),
        "signature_algorithm": SIGNATURE_ALGORITHM, "head_seq": head[0], "head_hash": head[1],
    }
    yield json.dumps(header, sort_keys=True, ensure_ascii=False) + "\n"
    for record in records:
        line = {"seq": record.seq, "prev_hash": record.prev_hash, "record_hash": record.record_hash,
                "signature": record.signature, "body": record.body}
        yield json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n"


def parse_export(lines: Iterable[str]) -> tuple[list[bytes], tuple[int, str], list[LogRecord]]:
    """The public keys (in order), head and records of an export of either format (ValueError if malformed)."""
    iterator = iter(lines)
    header = json.loads(next(iterator))
    if "public_keys" in header:
        if not isinstance(header["public_keys"], list):
            raise ValueError("public_keys must be a list")
        public_keys = [bytes.fromhex(str(key)) for key in header["public_keys"]]
    else:  # format 1: one key, no rotation
        public_keys = [bytes.fromhex(str(header["public_key"]))]
    head = (int(header["head_seq"]), str(header["head_hash"]))
    records = []
    for line in iterator:
        if not line.strip():
            continue
        item = json.loads(line)
        records.append(LogRecord(item["seq"], str(item["prev_hash"]), str(item["body"]), str(item["record_hash"]),
                                 str(item["signature"])))
    return public_keys, head, records
