"""The officials' audit log: append-only, hash-chained and signed, one row per action that changed something.

Each row keeps queryable columns (election, actor, action, detail, time) and the canonical
JSON ``body`` those columns were written from. The body carries the sequence number and the
previous record's hash, ``record_hash`` is SHA-256 of the body, and ``signature`` is the
server's audit-log key signing the body, so an edit, deletion or reordering of rows breaks
the chain and the signatures (``voting.audit_log`` verifies; the head is anchored on the
ledger). ``OfficialLogHead`` is the single row every append locks first, which serialises
appends on every database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit record (a bug, never user input)."""


class OfficialActionQuerySet(models.QuerySet["OfficialAction"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("official actions are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("official actions are append-only")


class OfficialAction(models.Model):
    """Who did what to which election, when; detail holds public facts only (never keys or PII)."""

    election = models.ForeignKey("voting.Election", on_delete=models.PROTECT, null=True, related_name="actions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40)
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)
    # The signed chain (null/empty only on rows written before the log was chained; the next
    # append seals those in id order).
    seq = models.BigIntegerField(null=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    body = models.TextField(blank=True, default="")
    record_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    signature = models.CharField(max_length=128, blank=True, default="")

    objects = OfficialActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("official actions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("official actions are append-only")


class OfficialLogHead(models.Model):
    """The latest record's sequence number and hash; the row every append locks (id is always 1)."""

    seq = models.BigIntegerField(default=-1)
    record_hash = models.CharField(max_length=64, blank=True, default="")


class OfficialLogAnchor(models.Model):
    """A head hash this server published on the ledger (``system.anchor``); a local note, the ledger is the proof."""

    label = models.CharField(max_length=64)
    anchor_seq = models.BigIntegerField()
    log_seq = models.BigIntegerField()
    record_hash = models.CharField(max_length=64)
    tx_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-anchor_seq"]
        constraints = [models.UniqueConstraint(fields=["label", "anchor_seq"], name="official_log_anchor_unique")]
