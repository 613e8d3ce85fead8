"""The election authority's RSA credential keys: one per mobile-voting election, kept in a 0600 file.

Why a file and not the database: the private key is what makes a credential worth a vote.
A database dump, backup or admin page must never hold it; the key directory can sit on a
separate volume (or an HSM-backed mount) with its own access control. The public half goes
onto the ledger in the election's ``create`` transaction (docs/protocol.md 10.2), where every
device and observer reads it. Keys are never logged.
"""

from __future__ import annotations

import os
import re
import threading
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.core.signals import setting_changed
from cryptography.hazmat.primitives.asymmetric import rsa

from ledger.core import blindrsa

from .config import get_mobile_settings
from .errors import CredentialKeyUnavailable

_LEDGER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
_lock = threading.Lock()


def get_key_path(ledger_id: str) -> Path:
    if not _LEDGER_ID_RE.match(ledger_id) or ledger_id in {".", ".."}:
        raise CredentialKeyUnavailable(detail={"reason": "bad_election_id"})
    return get_mobile_settings().credential_key_dir / f"{ledger_id}.pem"


def ensure_credential_key(ledger_id: str) -> bytes:
    """The election's public key (SPKI DER), generating and storing the key pair on first use.

    Safe to repeat (a retried scheduling reuses the stored key) and safe under concurrency:
    the file is written under a temporary name and hard-linked into place, which fails if
    another process got there first, so exactly one key ever exists per election.
    """
    path = get_key_path(ledger_id)
    with _lock:
        if not path.exists():
            _write_new_key(path)
    return blindrsa.public_key_der(load_private_key(ledger_id).public_key())


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = blindrsa.generate_private_key(get_mobile_settings().credential_key_bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process stored its key first; that one is the election's key
    finally:
        temporary.unlink(missing_ok=True)


@lru_cache(maxsize=64)
def load_private_key(ledger_id: str) -> rsa.RSAPrivateKey:
    """The election's private key from its file (cached; the file never changes once written)."""
    path = get_key_path(ledger_id)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise CredentialKeyUnavailable(detail={"reason": "key_missing", "election": ledger_id}) from exc
    except (OSError, ValueError, TypeError) as exc:
        raise CredentialKeyUnavailable(detail={"reason": "key_unreadable", "election": ledger_id}) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialKeyUnavailable(detail={"reason": "key_not_rsa", "election": ledger_id})
    return key


def get_public_key_hex(ledger_id: str) -> str:
    return blindrsa.public_key_der(load_private_key(ledger_id).public_key()).hex()


def _forget_keys(*, setting: str, **kwargs: object) -> None:
    if setting == "MOBILE":
        load_private_key.cache_clear()


setting_changed.connect(_forget_keys)
