"""Appending to the officials' audit log: one signed, hash-chained record per official action.

Appends are serialised by locking the single head row (``select_for_update`` on PostgreSQL;
SQLite's IMMEDIATE transactions hold the one write lock), so two concurrent actions can
never take the same sequence number or chain onto the same predecessor; the unique ``seq``
column backs that up. The record is written inside the caller's transaction, so an action
that rolls back leaves no record and no gap. Some actions (open, close, publish, every
``ANCHOR_EVERY`` records) then publish the head on the ledger once the transaction commits.

Key rotation (``rotate_log_key``) appends its hand-over record under the same lock and puts
the new key file in place before releasing it, so no append can sign with the old key after
the hand-over record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction

from ledger.core.crypto import PrivateKey

from .. import audit_log
from ..models import Election, ElectionRole, OfficialAction, OfficialLogHead

logger = logging.getLogger("voting.audit")

# Actions after which the head is anchored on the ledger at once (beside every ANCHOR_EVERY records).
ANCHOR_ACTIONS = frozenset({"election_open", "election_close", "election_publish"})
ANCHOR_EVERY = 25


def get_actor_role(actor: AbstractBaseUser, election: Election | None) -> str:
    """The capacity the actor acted in: superuser, their roles in the election, or election official/staff."""
    if getattr(actor, "is_superuser", False):
        return "superuser"
    if election is not None:
        roles = sorted(ElectionRole.objects.filter(election=election, user_id=actor.pk).values_list("role", flat=True))
        if roles:
            return "+".join(roles)
    from ..access import OFFICIALS_GROUP

    groups = getattr(actor, "groups", None)
    if groups is not None and groups.filter(name=OFFICIALS_GROUP).exists():
        return "election_official"
    return "staff"


def _lock_head() -> OfficialLogHead:
    """The head row, locked until the caller's transaction ends (created on the very first append)."""
    try:
        return OfficialLogHead.objects.select_for_update().get(pk=1)
    except OfficialLogHead.DoesNotExist:
        OfficialLogHead.objects.get_or_create(pk=1)
        return OfficialLogHead.objects.select_for_update().get(pk=1)


def _chain_fields(head: OfficialLogHead, action: OfficialAction, username: str, role: str,
                  key: PrivateKey | None = None) -> dict[str, Any]:
    """Seal one record as the successor of ``head`` and move the head on (the caller saves both)."""
    election = action.election
    body = audit_log.build_body(
        seq=head.seq + 1, prev_hash=head.record_hash or audit_log.GENESIS_PREV, at=action.created_at,
        actor_id=int(action.actor_id), username=username, role=role, action=action.action,
        election_id=None if election is None else election.pk,
        election_ledger_id=None if election is None else election.ledger_id, detail=action.detail,
    )
    sealed = audit_log.seal(body, key or audit_log.get_signing_key())
    head.seq, head.record_hash = sealed.seq, sealed.record_hash
    return {"seq": sealed.seq, "prev_hash": sealed.prev_hash, "body": sealed.body,
            "record_hash": sealed.record_hash, "signature": sealed.signature}


def _seal_legacy_rows(head: OfficialLogHead) -> None:
    """Chain rows written before the log was signed, oldest first (once, after the upgrade)."""
    legacy = OfficialAction.objects.filter(seq__isnull=True).select_related("actor", "election").order_by("id")
    for row in legacy:
        row.detail = audit_log.normalise_detail(row.detail if isinstance(row.detail, dict) else {"detail": row.detail})
        fields = _chain_fields(head, row, row.actor.get_username(), get_actor_role(row.actor, row.election))
        # The manager refuses updates by design; this is the one sanctioned write to an existing row.
        models.QuerySet(OfficialAction).filter(pk=row.pk, seq__isnull=True).update(detail=row.detail, **fields)


def record_action(
    actor: AbstractBaseUser, action: str, now: datetime, *, election: Election | None = None, **detail: Any
) -> OfficialAction:
    """Append one signed audit record; detail must hold public facts only (ids, counts, tx ids), never PII or keys."""
    if action == audit_log.ROTATION_ACTION:  # a bug: only rotate_log_key may hand the log over to a new key
        raise ValueError("record the key hand-over with rotate_log_key")
    role = get_actor_role(actor, election)
    with transaction.atomic():
        head = _lock_head()
        if head.seq < 0:  # first append since the upgrade: chain any older rows first
            _seal_legacy_rows(head)
        record = OfficialAction(election=election, actor=actor, action=action,
                                detail=audit_log.normalise_detail(detail), created_at=now)
        for name, value in _chain_fields(head, record, actor.get_username(), role).items():
            setattr(record, name, value)
        record.save()
        head.save(update_fields=["seq", "record_hash"])
        if action in ANCHOR_ACTIONS or record.seq % ANCHOR_EVERY == ANCHOR_EVERY - 1:
            transaction.on_commit(anchor_after_commit)
    return record


@dataclass(frozen=True)
class KeyRotation:
    record: OfficialAction
    old_fingerprint: str
    new_fingerprint: str


def rotate_log_key(actor: AbstractBaseUser, now: datetime, *, reason: str) -> KeyRotation:
    """Hand the log over to a new key: a record signed by the old key names the new one, then the new key replaces it.

    The head row stays locked from the hand-over record until the new key file is in place,
    so every later append signs with the new key. The old private key is kept aside only
    until the transaction commits (put back if it does not), then deleted: a retired key
    must not be able to sign again. Call it outside any transaction (the command does), or
    a later rollback of the caller would leave the new key with no hand-over record.
    """
    path = audit_log.get_key_path()
    audit_log.validate_key_file(path)
    role = get_actor_role(actor, None)
    new_key = PrivateKey.generate()
    retired = None
    try:
        with transaction.atomic():
            head = _lock_head()
            old_key = audit_log.get_signing_key(create=False)
            if head.seq < 0:
                _seal_legacy_rows(head)
            detail = {**audit_log.build_handover_detail(old_key.public_key, new_key.public_key), "reason": reason}
            record = OfficialAction(election=None, actor=actor, action=audit_log.ROTATION_ACTION,
                                    detail=audit_log.normalise_detail(detail), created_at=now)
            for name, value in _chain_fields(head, record, actor.get_username(), role, key=old_key).items():
                setattr(record, name, value)
            record.save()
            head.save(update_fields=["seq", "record_hash"])
            retired = audit_log.install_new_key(path, new_key)
    except BaseException:
        if retired is not None:
            audit_log.restore_retired_key(path, retired)
        raise
    if retired is not None:
        audit_log.remove_retired_key(retired)
    old_fingerprint = audit_log.compute_key_fingerprint(old_key.public_key)
    logger.info("officials' log key rotated at record %s: fingerprint %s -> %s", record.seq, old_fingerprint[:16],
                detail["new_key_fingerprint"][:16])
    return KeyRotation(record, old_fingerprint, detail["new_key_fingerprint"])


def anchor_after_commit() -> None:
    """Publish the head on the ledger; a failure is logged, never raised (the action itself is done)."""
    from ..audit_log_anchor import anchor_head
    from ..errors import VotingError

    try:
        anchor_head()
    except VotingError as exc:
        logger.warning("officials' log head not anchored on the ledger (%s); the next anchor will cover it", exc.code)
