"""Per-election roles: an official, poll worker or observer of one election (optionally one station)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .elections import Election
from .regions import PollingStation


class ElectionRole(models.Model):
    class Role(models.TextChoices):
        OFFICIAL = "official", _("Election official")
        POLL_WORKER = "poll_worker", _("Poll worker")
        OBSERVER = "observer", _("Observer")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="election_roles")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # A poll worker may be bound to one station; blank means any station of the election.
    station = models.ForeignKey(
        PollingStation, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("station")
    )
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["election", "user", "role"], name="election_role_unique"),
        ]
        verbose_name = _("election role")
        verbose_name_plural = _("election roles")
