"""The officials' audit log: append-only, one row per action that changed something."""

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

    objects = OfficialActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("official actions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("official actions are append-only")
