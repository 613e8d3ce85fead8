"""The validator's signer state on local disk: the double-sign guard, written before every send.

Why a file and not only the database: the database thread also stores blocks, and a
signer-state write queued behind a large block insert held back the next prevote by the
insert's duration (PostgreSQL commit p99 of seconds under load, docs/performance.md).
A small file, replaced atomically (write a temporary file, fsync it, rename it over the old
one, fsync the directory), is durable in a millisecond or two and contends with nothing.
The database keeps a copy written behind (for backups and the status page); at start-up
the node takes whichever of the two is later in (height, round, step), so losing either
one never lets a restarted validator sign something it already signed differently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ledger.core.consensus.interface import SignerState

FILE_NAME = "signer_state.json"


def signer_state_path(home: Path) -> Path:
    return home / FILE_NAME


def write_signer_state(path: Path, state: SignerState) -> None:
    """Durably replace the file's content with ``state`` (atomic: old or new, never half)."""
    data = json.dumps(state.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_signer_state(path: Path) -> SignerState | None:
    """The stored state, or None when there is no file yet (a corrupt file raises: never guess)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return SignerState.from_dict(json.loads(data))


def later(a: SignerState | None, b: SignerState | None) -> SignerState | None:
    """The state further along (height, round, step); ``a`` on a tie (they record the same step)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if (b.height, b.round, b.step) > (a.height, a.round, a.step) else a
