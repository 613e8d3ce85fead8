"""Normalising and keyed hashing of the roll's personal identifiers (phone numbers, national ids).

Other apps (mobile voting) find a roll entry by computing the same hash of what the voter
types, so the normalisation here is the one definition: digits only, no separators.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from .config import get_voting_settings

PHONE_RE = re.compile(r"^01[016789][0-9]{7,8}$")
NATIONAL_ID_RE = re.compile(r"^[0-9]{6}[1-8][0-9]{6}$")
_SEPARATORS = re.compile(r"[\s\-.()]")


def normalise_phone(raw: str) -> str | None:
    """Korean mobile number as 10-11 digits, or None if it is not one (+82 prefix accepted)."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("+82"):
        text = "0" + text[3:]
    return text if PHONE_RE.match(text) else None


def normalise_national_id(raw: str) -> str | None:
    """Resident registration number as 13 digits (YYMMDD + 7), or None if malformed."""
    text = _SEPARATORS.sub("", raw.strip())
    return text if NATIONAL_ID_RE.match(text) else None


def _keyed_hash(kind: bytes, value: str) -> str:
    key = get_voting_settings().roll_hmac_key
    return hmac.new(key, kind + b":" + value.encode(), hashlib.sha256).hexdigest()


def compute_phone_hmac(normalised_phone: str) -> str:
    return _keyed_hash(b"phone", normalised_phone)


def compute_national_id_hmac(normalised_national_id: str) -> str:
    return _keyed_hash(b"national-id", normalised_national_id)


def compute_checkin_id(checkin_secret: bytes, roll_entry_id: int) -> str:
    """The anonymous check-in id on the ledger: 64 hex, one per roll entry, unlinkable without the secret."""
    return hmac.new(bytes(checkin_secret), b"checkin:%d" % roll_entry_id, hashlib.sha256).hexdigest()
