"""The officials' audit-log signing key: the 0600 file, its creation, rotation on disk, its fingerprint.

Split from ``voting.audit_log`` (which re-exports these names) so the file handling of the key
ceremony sits apart from the chain format and its verification. Why a file and not the
database: whoever administers the database must not also hold the key that signs the log.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from ledger.core.crypto import PrivateKey

from .errors import VotingError

_key_lock = threading.Lock()


# Kept here, not in voting/errors.py, because only the key ceremony raises them; their messages
# are for the operator's terminal, so they are not translated.
class AuditLogKeyError(VotingError):
    code = "audit_log_key_error"
    default_message = "The audit-log key cannot be used."


class AuditLogKeyMissing(AuditLogKeyError):
    code = "audit_log_key_missing"
    default_message = "There is no audit-log key at %(path)s yet (it is made by the first recorded action)."


class AuditLogKeyInsecure(AuditLogKeyError):
    code = "audit_log_key_insecure"
    default_message = "The audit-log key file %(path)s has mode %(mode)s; it must be 0600 before a ceremony."


# --- the key -------------------------------------------------------------------------------


def get_key_path() -> Path:
    raw = getattr(settings, "VOTING", {}).get("AUDIT_LOG_KEY_FILE") or "var/keys/official-log.pem"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def _write_temporary_key(path: Path, key: PrivateKey) -> Path:
    """``key`` in a 0600 file beside ``path``, flushed to disk (the caller links or renames it into place)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.to_pem())
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _write_new_key(path: Path) -> None:
    """Create the key file with mode 0600; hard-linking into place lets exactly one process win a race."""
    temporary = _write_temporary_key(path, PrivateKey.generate())
    try:
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def validate_key_file(path: Path) -> None:
    """Raise unless the key file exists with mode 0600 (a ceremony must not start from a key others could read)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError as exc:
        raise AuditLogKeyMissing(detail={"path": str(path)}) from exc
    if mode != 0o600:
        raise AuditLogKeyInsecure(detail={"path": str(path), "mode": f"{mode:04o}"})


def install_new_key(path: Path, key: PrivateKey) -> Path:
    """Put ``key`` at ``path`` atomically; the old file stays reachable under the returned name until committed.

    The rename is atomic, so every reader sees either the old or the new key, never a torn
    file. The caller removes the returned file once the hand-over record is committed
    (``remove_retired_key``) or puts it back if it is not (``restore_retired_key``).
    """
    retired = path.with_name(f".{path.name}.retired.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary = _write_temporary_key(path, key)
    try:
        os.link(path, retired)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        retired.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return retired


def restore_retired_key(path: Path, retired: Path) -> None:
    os.replace(retired, path)
    _fsync_directory(path.parent)


def remove_retired_key(retired: Path) -> None:
    """Delete the retired private key: it must not be able to sign again (its public half lives on in the chain)."""
    retired.unlink(missing_ok=True)
    _fsync_directory(retired.parent)


@lru_cache(maxsize=4)
def _load_key(path: Path, identity: tuple[int, ...] = ()) -> PrivateKey:
    return PrivateKey.from_pem(path.read_bytes())


def get_signing_key(*, create: bool = True) -> PrivateKey:
    """The server's audit-log key, generated on first use (its public half is anchored on the ledger).

    Cached per file identity (inode, mtime, size), not per path: after a rotation every
    process, not only the one that ran it, signs with the new key from its next append on.
    """
    path = get_key_path()
    with _key_lock:
        if create and not path.exists():
            _write_new_key(path)
    info = path.stat()
    return _load_key(path, (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size))


def get_public_key_hex() -> str:
    return get_signing_key().public_key.hex()


def compute_key_fingerprint(public_key: bytes) -> str:
    """SHA-256 of the uncompressed public key: what the ledger's ``officials-log-key`` anchor holds."""
    return hashlib.sha256(public_key).hexdigest()
