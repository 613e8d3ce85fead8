"""The public node's directory: trusted genesis, verified blocks, checkpoints, cross-check marks.

``blocks.jsonl`` holds one verified entry per line (canonical JSON, height order), so a
restart does not download the chain again; it is re-verified from the genesis on start-up
(the state has to be rebuilt anyway, and a copy edited on disk is caught). A line cut short
by a crash is dropped. ``checkpoints.jsonl`` and ``alarms.jsonl`` only grow.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ledger.core.errors import LedgerError
from ledger.core.genesis import Genesis

from .chain import VerifiedChain
from .entries import Entry, EntryInvalid, read_entry
from .errors import StoreInvalid, UsageError

logger = logging.getLogger("publicnode")
PROGRESS_SECONDS = 10.0


class BlockFile:
    """The verified entries on disk, read back by height when a node's copy is compared with ours.

    Only offsets stay in memory (the ledger state already holds the chain's meaning); the
    last few entries read are cached, since every node is compared at the same heights.
    """

    CACHE = 512

    def __init__(self, path: Path, offsets: list[int], size: int) -> None:
        self.path = path
        self.offsets = offsets
        self.size = size
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, raws: list[bytes]) -> None:
        if not raws:
            return
        with self.path.open("ab") as handle:
            for raw in raws:
                self.offsets.append(self.size)
                self.size += len(raw) + 1
            handle.write(b"".join(raw + b"\n" for raw in raws))
            handle.flush()
            os.fsync(handle.fileno())

    def raw(self, height: int) -> bytes:
        """The stored entry at ``height`` (1-based, at most ``len(self)``), as served and verified."""
        cached = self._cache.get(height)
        if cached is not None:
            self._cache.move_to_end(height)
            return cached
        with self.path.open("rb") as handle:
            handle.seek(self.offsets[height - 1])
            line = handle.readline().rstrip(b"\n")
        self._cache[height] = line
        if len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)
        return line

    def entry(self, height: int) -> Entry:
        return read_entry(self.raw(height), height)


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.genesis_path = directory / "genesis.json"
        self.blocks_path = directory / "blocks.jsonl"
        self.checkpoints_path = directory / "checkpoints.jsonl"
        self.alarms_path = directory / "alarms.jsonl"
        self.crosscheck_path = directory / "crosscheck.json"

    # --- genesis ------------------------------------------------------------------------------------

    def stored_genesis(self) -> bytes | None:
        return self.genesis_path.read_bytes() if self.genesis_path.exists() else None

    def pin_genesis(self, genesis_bytes: bytes) -> Genesis:
        """Keep the trust root; a directory holds one chain only."""
        try:
            genesis = Genesis.from_bytes(genesis_bytes)
        except LedgerError as exc:
            raise UsageError(f"the genesis does not decode: {exc.message}") from exc
        stored = self.stored_genesis()
        if stored is not None and stored != genesis_bytes:
            raise UsageError(f"{self.directory} already follows another genesis; use another --data directory",
                             stored=Genesis.from_bytes(stored).hash.hex(), given=genesis.hash.hex())
        if stored is None:
            _write_atomic(self.genesis_path, genesis_bytes)
        return genesis

    # --- blocks -------------------------------------------------------------------------------------

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        """(offset, line without newline) of each complete stored line."""
        if not self.blocks_path.exists():
            return
        offset = 0
        with self.blocks_path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    return  # cut short by a crash: dropped, fetched again
                yield offset, line[:-1]
                offset += len(line)

    def load(self, genesis: Genesis) -> tuple[VerifiedChain, BlockFile]:
        """Re-verify the stored blocks from the genesis; StoreInvalid if the copy was changed."""
        chain = VerifiedChain(genesis)
        offsets: list[int] = []
        good_bytes = 0
        last_log = time.monotonic()
        for offset, line in self._lines():
            height = chain.height + 1
            try:
                entry = read_entry(line, height)
            except EntryInvalid as exc:
                raise StoreInvalid(f"stored block {height}: {exc.message}", height=height, field=exc.field) from exc
            failure = chain.extend(entry.block, entry.cert)
            if failure is not None:
                raise StoreInvalid(f"stored block {height}: {failure.message}", height=height, field=failure.field,
                                   tx_index=failure.tx_index, reason=failure.code)
            offsets.append(offset)
            good_bytes = offset + len(line) + 1
            if time.monotonic() - last_log > PROGRESS_SECONDS:
                last_log = time.monotonic()
                logger.info("re-verifying the stored chain: block %s", height)
        if self.blocks_path.exists() and self.blocks_path.stat().st_size != good_bytes:
            with self.blocks_path.open("r+b") as handle:
                handle.truncate(good_bytes)
        return chain, BlockFile(self.blocks_path, offsets, good_bytes)

    # --- checkpoints and cross-check marks -------------------------------------------------------

    def append_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        with self.checkpoints_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(checkpoint, ensure_ascii=False, sort_keys=True) + "\n")

    def checkpoints(self, limit: int = 0) -> list[dict[str, Any]]:
        if not self.checkpoints_path.exists():
            return []
        lines = self.checkpoints_path.read_text(encoding="utf-8").splitlines()
        result = []
        for line in lines[-limit:] if limit else lines:
            try:
                result.append(json.loads(line))
            except ValueError:
                continue
        return result

    def crosschecked(self) -> dict[str, int]:
        """Per node URL, the height up to which it served exactly our blocks."""
        try:
            data = json.loads(self.crosscheck_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.items() if type(v) is int} if isinstance(data, dict) else {}

    def save_crosschecked(self, marks: dict[str, int]) -> None:
        _write_atomic(self.crosscheck_path, json.dumps(dict(sorted(marks.items()))).encode())


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
