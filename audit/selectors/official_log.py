"""The officials' audit log as observers read it: one page of records, its verification, the JSON Lines export.

Who sees it: anyone who observes at least one election (observers, officials, superusers).
The log spans all elections because its chain does: a record's hash covers its
predecessor, so verifying any part needs the whole. Records hold public facts only (the
official's user name and role, the action, ids, counts, ledger transaction ids), never keys,
codes or voter data, so showing another election's entries reveals nothing private.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.paginator import Page, Paginator

from voting import audit_log
from voting.audit_log_anchor import get_chain_public_keys, get_head, get_key_history, iter_records, verify_official_log
from voting.models import Election, OfficialAction

from ..access import User, list_observable_elections
from ..errors import ElectionNotObservable, SignInRequired

PAGE_SIZE = 50


@dataclass(frozen=True)
class LogEntry:
    """One record for display: the signed body's facts and its chain fields."""

    action: OfficialAction
    body: dict[str, Any]
    actor: str
    role: str


def access_official_log(user: User) -> None:
    """Raise unless ``user`` observes some election (the log is for observers and officials)."""
    if not user.is_authenticated:
        raise SignInRequired()
    if not list_observable_elections(user).exists():
        raise ElectionNotObservable()


def get_filter_election(user: User, raw: str) -> Election | None:
    """The election to filter by (one the user observes), None for all; a bad id raises ElectionNotObservable."""
    if not raw:
        return None
    election = list_observable_elections(user).filter(pk=int(raw) if raw.isdigit() else -1).first()
    if election is None:
        raise ElectionNotObservable(detail={"election": raw})
    return election


def get_log_page(election: Election | None, page_number: str) -> tuple[Page[OfficialAction], list[LogEntry]]:
    """Newest first, ``PAGE_SIZE`` per page, optionally one election's records."""
    records = OfficialAction.objects.select_related("actor").order_by("-seq", "-id")
    if election is not None:
        records = records.filter(election=election)
    page = Paginator(records, PAGE_SIZE).get_page(page_number)
    entries = []
    for action in page.object_list:
        try:
            body = json.loads(action.body) if action.body else {}
        except ValueError:
            body = {}
        actor = body.get("actor") or {}
        entries.append(LogEntry(action, body, str(actor.get("username", action.actor.get_username())),
                                str(actor.get("role", ""))))
    return page, entries


VERIFICATION_CACHE_S = 60


def get_log_verification() -> audit_log.Verification:
    """The whole chain and signatures, and the newest ledger anchor (the command checks every anchor).

    A full check costs one signature verification per record (~0.1 ms each), so a busy log
    made every page load slow. The outcome is kept for VERIFICATION_CACHE_S under the key's
    fingerprint and the head: a new record re-verifies at once; a record changed in the middle
    behind the database trigger's back (the head unchanged) shows within that time, as it does
    to the hourly ``verify_official_log`` command and to anyone checking a download.
    """
    info = get_public_key_info()
    seq, digest = get_head()
    key = f"audit:officials-log:verification:{info.get('fingerprint', 'no-key')}:{seq}:{digest}"
    cached = cache.get(key)
    if isinstance(cached, audit_log.Verification):
        return cached
    result = verify_official_log(latest_anchor_only=True)
    slim = dataclasses.replace(result, hash_to_seq={})  # the page needs the outcome, not the index
    cache.set(key, slim, VERIFICATION_CACHE_S)
    return slim


def get_public_key_info() -> dict[str, str]:
    path = audit_log.get_key_path()
    if not path.exists():
        return {}
    public_key = audit_log.get_signing_key(create=False).public_key
    return {"public_key": public_key.hex(), "fingerprint": audit_log.compute_key_fingerprint(public_key)}


@dataclass(frozen=True)
class KeyEntry:
    """One audit-log key in the order the chain used it; ``since_seq`` is the hand-over record naming it, if any."""

    number: int
    public_key: str
    fingerprint: str
    since_seq: int | None
    is_current: bool


def list_log_keys() -> list[KeyEntry]:
    """Every key that signed the log, oldest first, as the hand-over records name them (empty before the first key)."""
    info = get_public_key_info()
    if not info:
        return []
    history = get_key_history(bytes.fromhex(info["public_key"]))
    return [KeyEntry(number, key.hex(), audit_log.compute_key_fingerprint(key), since_seq, number == len(history))
            for number, (key, since_seq) in enumerate(history, start=1)]


def iter_export() -> Iterator[str]:
    """The JSON Lines export: header (every public key in order, head), then every record in order."""
    info = get_public_key_info()
    # Bodies are matched too (the export reads the whole table anyway), as verify_official_log does.
    public_keys = get_chain_public_keys(bytes.fromhex(info["public_key"]), match_bodies=True) if info else [b""]
    return audit_log.iter_export_lines(iter_records(), public_keys, get_head())
