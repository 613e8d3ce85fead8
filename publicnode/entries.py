"""Reading block entries served by a node, and naming the spot where one differs.

An entry is ``{"block":{"header","txs"},"cert","committed_at","hash","height"}`` in canonical
JSON (docs/node-api.md). Nothing in it is trusted: decoding is strict, and each part is read
separately so a failure names its place (``block.header.time``, ``block.txs[3].sig``,
``cert.sigs[1].sig``, ``hash``). ``locate_*`` compare an entry with the verified copy of
the same height, byte by byte or value by value, to name the first differing spot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ledger.core.block import Block, BlockHeader, CommitCertificate
from ledger.core.genesis import Genesis
from ledger.core.encoding import decode, encode, encode_unchecked, parse, require_keys, validate_canonical
from ledger.core.errors import LedgerError
from ledger.core.tx import Transaction

ENTRY_KEYS = frozenset({"block", "cert", "committed_at", "hash", "height"})
BLOCK_KEYS = frozenset({"header", "txs"})
ENTRY_PREFIX = b'{"block":'
HEADER_PREFIX = b'{"block":{"header":'
CERT_MARKER = b',"cert":'
TAIL_KEYS = ENTRY_KEYS - {"block"}
TOP_MEMBERS = (("cert", b',"cert":'), ("committed_at", b',"committed_at":"'), ("hash", b',"hash":"'),
               ("height", b',"height":'))


class EntryInvalid(Exception):
    """An entry that cannot be read as a block of the expected height."""

    def __init__(self, message: str, *, reason: str, field: str, tx_index: int | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field
        self.tx_index = tx_index
        self.detail = detail or {}


@dataclass(frozen=True)
class Entry:
    height: int
    block: Block
    cert: CommitCertificate
    block_value: dict[str, Any]
    cert_value: dict[str, Any]
    committed_at: Any

    @property
    def hash(self) -> str:
        return self.block.hash.hex()


def split_page(body: bytes) -> list[bytes] | None:
    """The raw entries of a ``/v1/blocks`` page, or None when the page is not strictly canonical."""
    try:
        page = require_keys(parse(body), frozenset({"blocks", "height"}), "block page")
        if type(page["blocks"]) is not list or type(page["height"]) is not int:
            return None
        validate_canonical(page)
        entries = [encode_unchecked(entry) for entry in page["blocks"]]
    except (LedgerError, UnicodeEncodeError):
        return None
    # One encoding per entry serves both the canonical check of the page and the entries' bytes.
    if b'{"blocks":[' + b",".join(entries) + b'],"height":' + str(page["height"]).encode() + b"}" != body:
        return None
    return entries


def read_entry(raw: bytes, height: int) -> Entry:
    """Strictly decode one entry expected at ``height``; EntryInvalid names the failing part."""
    try:
        value = decode(raw)
    except LedgerError as exc:
        raise EntryInvalid(f"entry does not decode: {exc.message}", reason=exc.code,
                           field=locate_unreadable(raw, None)) from exc
    return entry_from_value(value, height)


def _fail(exc: LedgerError, prefix: str, tx_index: int | None = None) -> EntryInvalid:
    name = exc.detail.get("field")
    field = f"{prefix}.{name}" if isinstance(name, str) and name and name != prefix.rsplit(".", 1)[-1] else prefix
    return EntryInvalid(exc.message, reason=exc.code, field=field, tx_index=tx_index)


def entry_from_value(value: Any, height: int) -> Entry:
    try:
        obj = require_keys(value, ENTRY_KEYS, "entry")
    except LedgerError as exc:
        raise EntryInvalid(exc.message, reason=exc.code, field=str(exc.detail.get("field", "entry"))) from exc
    if obj["height"] != height or type(obj["height"]) is not int:
        raise EntryInvalid(f"entry is for height {obj['height']!r}, expected {height}", reason="block_invalid",
                           field="height")
    try:
        block_value = require_keys(obj["block"], BLOCK_KEYS, "block")
    except LedgerError as exc:
        raise _fail(exc, "block") from exc
    try:
        header = BlockHeader.from_dict(block_value["header"])
    except LedgerError as exc:
        raise _fail(exc, "block.header") from exc
    if type(block_value["txs"]) is not list:
        raise EntryInvalid("txs must be a list", reason="malformed", field="block.txs")
    txs = []
    for index, tx in enumerate(block_value["txs"]):
        try:
            txs.append(Transaction.from_dict(tx))
        except LedgerError as exc:
            raise _fail(exc, f"block.txs[{index}]", index) from exc
    if header.height != height:
        raise EntryInvalid(f"block header says height {header.height}, expected {height}", reason="block_invalid",
                           field="block.header.height")
    if obj["hash"] != header.hash.hex():
        raise EntryInvalid("entry hash is not the SHA-256 of the header", reason="block_invalid", field="hash")
    try:
        cert = CommitCertificate.from_dict(obj["cert"])
    except LedgerError as exc:
        raise _fail(exc, "cert") from exc
    return Entry(height, Block(header, tuple(txs)), cert, block_value, obj["cert"], obj["committed_at"])


def holds_same_block(raw: bytes, ours_raw: bytes, height: int, genesis: Genesis) -> bool:
    """Fast path of the cross-check: True only if ``raw`` is our verified block, byte for byte, with
    the right hash and height and a valid certificate (which may differ from ours).

    The block part is compared as bytes instead of decoded again; the rest is decoded strictly
    (the whole entry is then canonical, as canonical objects concatenate). False means "look
    closer": the caller decodes the entry in full and names what differs.
    """
    end = ours_raw.rfind(CERT_MARKER + b'{"block":"')  # the last one is the top-level certificate
    if end <= 0 or raw[:end] != ours_raw[:end] or raw[end:end + len(CERT_MARKER)] != CERT_MARKER:
        return False
    try:
        tail = decode(b"{" + raw[end + 1:])
        ours_tail = decode(b"{" + ours_raw[end + 1:])
    except LedgerError:
        return False
    if type(tail) is not dict or tail.keys() != TAIL_KEYS or type(tail["height"]) is not int:
        return False
    if tail["height"] != height or tail["hash"] != ours_tail["hash"]:
        return False
    if tail["cert"] == ours_tail["cert"]:
        return True
    try:
        header_end = ours_raw.index(b',"txs":[', len(HEADER_PREFIX))
        header = BlockHeader.from_dict(decode(ours_raw[len(HEADER_PREFIX):header_end]))
        CommitCertificate.from_dict(tail["cert"]).verify(genesis, header)
    except (LedgerError, ValueError):
        return False
    return True


# --- naming the spot ------------------------------------------------------------------------------


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def path_at(value: Any, offset: int, path: str = "") -> str:
    """The innermost member of canonical ``value`` whose bytes (key or value) cover ``offset``.

    Punctuation of a container (its brackets, the commas between members) belongs to the container.
    """
    if isinstance(value, (dict, list)):
        position = 1
        items = [(key, value[key]) for key in sorted(value)] if isinstance(value, dict) else list(enumerate(value))
        for key, item in items:
            if offset < position:
                return path
            key_size = len(encode(key)) + 1 if isinstance(value, dict) else 0
            size = key_size + len(encode(item))
            if offset < position + size:
                inner = offset - position - key_size
                return _join(path, key) if inner < 0 else path_at(item, inner, _join(path, key))
            position += size + 1
    return path


def first_difference(ours: Any, theirs: Any, path: str = "") -> str | None:
    """The first differing member (in canonical order) of two decoded values, or None if equal."""
    if type(ours) is not type(theirs):
        return path
    if isinstance(ours, dict):
        missing = sorted(set(ours) - set(theirs))  # a damaged key: name the member we expected
        if missing:
            return _join(path, missing[0])
        extra = sorted(set(theirs) - set(ours))
        if extra:
            return _join(path, extra[0])
        for key in sorted(ours):
            found = first_difference(ours[key], theirs[key], _join(path, key))
            if found is not None:
                return found
        return None
    if isinstance(ours, list):
        for index in range(max(len(ours), len(theirs))):
            if index >= len(ours) or index >= len(theirs):
                return _join(path, index)
            found = first_difference(ours[index], theirs[index], _join(path, index))
            if found is not None:
                return found
        return None
    return None if ours == theirs else path


def _error_position(raw: bytes) -> int | None:
    """Where reading ``raw`` goes wrong: bad UTF-8, a JSON syntax error, or the first non-canonical byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    try:
        value = json.loads(text)
    except RecursionError:
        return None
    except ValueError as exc:
        position = getattr(exc, "pos", None)
        return len(text[:position].encode("utf-8")) if isinstance(position, int) else None
    try:
        canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return None
    return next((i for i, (a, b) in enumerate(zip(raw, canonical)) if a != b), None)


def _shape_ok(name: str, data: bytes) -> bool:
    """Is a top-level member's value what a node serves there (object, string, 64 hex, integer)?"""
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    if name == "cert":
        return isinstance(value, dict)
    if name == "hash":
        return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    if name == "height":
        return type(value) is int
    return isinstance(value, str)


def _member_at(raw: bytes, position: int | None, tail_start: int) -> str:
    """The top-level member of a damaged entry: a damaged key, then a malformed value, then the position."""
    if not raw.endswith(b"}"):
        return "entry"
    starts: list[tuple[str, int, int]] = []
    cursor = tail_start
    for name, marker in TOP_MEMBERS:
        found = raw.find(marker, cursor)
        if found < 0:
            return name
        value_start = found + len(marker) - (1 if marker.endswith(b'"') else 0)
        starts.append((name, found, value_start))
        cursor = found + 1
    ends = [found for _, found, _ in starts[1:]] + [len(raw) - 1]
    for (name, _, value_start), end in zip(starts, ends):
        if not _shape_ok(name, raw[value_start:end]):
            return name
    if position is None:
        return "entry"
    if position < starts[0][1]:
        return "block"
    return max((found, name) for name, found, _ in starts if found <= position)[1]


def locate_unreadable(raw: bytes, reference_block: dict[str, Any] | None) -> str:
    """Name the spot of an entry that does not decode, against the verified block if we have it."""
    tail_start = 0
    if reference_block is not None:
        expected = ENTRY_PREFIX + encode(reference_block)
        common = next((i for i, (a, b) in enumerate(zip(raw, expected)) if a != b), min(len(raw), len(expected)))
        if common == 0:
            return "entry"
        if common < len(expected):
            inner = common - len(ENTRY_PREFIX)
            return "block" if inner < 0 else path_at(reference_block, inner, "block")
        tail_start = len(expected)
    elif not raw.startswith(b"{"):
        return "entry"
    return _member_at(raw, _error_position(raw), tail_start)


def locate_against(raw: bytes, reference: Entry | None) -> str | None:
    """First differing spot between a served entry and the verified one (None: no reference)."""
    if reference is None:
        return None
    try:
        value = decode(raw)
    except LedgerError:
        return locate_unreadable(raw, reference.block_value)
    if not isinstance(value, dict):
        return "entry"
    spot = first_difference({"header": reference.block_value["header"], "txs": reference.block_value["txs"]},
                            value.get("block"), "block")
    if spot is not None:
        return spot
    for name in ("hash", "height"):
        if value.get(name) != (reference.hash if name == "hash" else reference.height):
            return name
    extra = sorted(set(value) - ENTRY_KEYS)
    return extra[0] if extra else "cert"
