"""Reading an evote-bundle v1 file (docs/audit-bundle.md): gzip JSON Lines, streamed.

The reader only splits the stream into records and blocks (a block line, its transaction
lines, its certificate line); it judges nothing but the layout. A line that cannot be read
becomes an ``Invalid`` at the position where it stands, so the engine reports it after
the blocks before it, exactly where it is.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import BundleUnreadable, Invalid

FORMAT = "evote-bundle"
VERSION = 1


@dataclass
class BlockUnit:
    """The lines of one block as read; ``error`` is a layout problem found at this position."""

    height: int
    line: int
    raw: bytes = b""
    record: Any = None
    tx_lines: list[bytes] = field(default_factory=list)
    cert_raw: bytes | None = None
    error: Invalid | None = None


@dataclass
class Tail:
    """What follows the blocks: metadata, published results, the trailer and the digest before it."""

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    trailer: dict[str, Any] | None = None
    digest: str = ""
    lines: int = 0
    error: Invalid | None = None


class BundleReader:
    """Streams the lines of a bundle with a running SHA-256 over every line before the trailer."""

    def __init__(self, source: Path | BinaryIO) -> None:
        try:
            self.stream: BinaryIO = gzip.open(source, "rb")  # type: ignore[assignment]
            first = self.stream.readline()
        except (OSError, EOFError, zlib.error) as exc:
            raise BundleUnreadable(f"not a gzip-compressed evote-bundle: {exc}") from exc
        self.sha = hashlib.sha256()
        self.line_no = 0
        self.pending: tuple[int, bytes] | None = None
        self.header_raw = first[:-1] if first.endswith(b"\n") else first
        self.header = self._header(first)
        self.tail = Tail()

    def _header(self, first: bytes) -> dict[str, Any]:
        try:
            header = json.loads(first)
        except ValueError as exc:
            raise BundleUnreadable("the first line is not a JSON bundle header") from exc
        if type(header) is not dict or header.get("format") != FORMAT:
            raise BundleUnreadable("the first line is not an evote-bundle header")
        if header.get("version") != VERSION:
            raise BundleUnreadable(f"bundle version {header.get('version')!r}; this verifier reads version {VERSION}")
        self._count(first)
        return header

    def _count(self, raw: bytes) -> None:
        self.sha.update(raw)
        self.line_no += 1

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(line number, bytes without the newline); a broken stream ends in ``bundle_truncated``."""
        try:
            for raw in self.stream:
                if not raw.endswith(b"\n"):
                    raise Invalid("bundle_truncated", f"line {self.line_no + 1} has no newline: the file is cut",
                                  field="bundle", line=self.line_no + 1)
                yield self.line_no + 1, raw[:-1]
                self._count(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise Invalid("bundle_truncated", f"the compressed stream ends or breaks after line {self.line_no}: {exc}",
                          field="bundle", line=self.line_no) from exc

    def close(self) -> None:
        self.stream.close()


def parse(raw: bytes) -> Any:
    """The JSON value of a line (strictness is the engine's job), or None if it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None
