"""The voter roll and check-ins.

What the database keeps and why (personal data protection):
- roll number, name, birth date and assigned station in clear: the poll worker looks a voter
  up by roll number or by name + birth date and compares them with the ID card, so they
  must be readable at the station;
- phone number and national id only as HMAC-SHA256 under ``VOTING["ROLL_HMAC_KEY"]``
  (``voting.pii``): mobile voting finds the entry by the number the voter types, and the poll
  worker may type the ID number from the card to compare; neither needs the clear value,
  and a stolen database does not give them away without the key;
- nothing personal ever reaches the ledger: a check-in goes there as
  HMAC(election check-in secret, roll entry id), which proves "one check-in per voter"
  without naming anyone.
A check-in row names the voter and the station but never a token: cards are drawn at random.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .elections import Election
from .regions import PollingStation


class VoterRollEntry(models.Model):
    class Status(models.TextChoices):
        ELIGIBLE = "eligible", _("Eligible")
        CHECKED_IN = "checked_in", _("Checked in")
        CREDENTIAL_ISSUED = "credential_issued", _("Mobile credential issued")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="roll")
    roll_number = models.CharField(_("roll number"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    birth_date = models.DateField(_("birth date"))
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="roll_entries")
    phone_hmac = models.CharField(max_length=64, blank=True)
    national_id_hmac = models.CharField(max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ELIGIBLE)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["election_id", "roll_number"]
        constraints = [
            models.UniqueConstraint(fields=["election", "roll_number"], name="roll_number_unique_per_election"),
            models.UniqueConstraint(
                fields=["election", "national_id_hmac"],
                condition=~models.Q(national_id_hmac=""),
                name="roll_national_id_unique_per_election",
            ),
        ]
        indexes = [
            models.Index(fields=["election", "name", "birth_date"], name="roll_name_birth_idx"),
            models.Index(fields=["election", "phone_hmac"], name="roll_phone_idx"),
            models.Index(fields=["election", "station", "status"], name="roll_station_status_idx"),
        ]
        verbose_name = _("voter roll entry")
        verbose_name_plural = _("voter roll entries")

    def __str__(self) -> str:
        return f"{self.roll_number} {self.name}"


class RollImport(models.Model):
    """One upload of a roll file and its outcome: imported rows, or every problem found (nothing imported)."""

    class Outcome(models.TextChoices):
        IMPORTED = "imported", _("Imported")
        REJECTED = "rejected", _("Rejected")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="roll_imports")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    rows = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    # [{"line": 3, "column": "birth_date", "code": "...", "message": "..."}, ...] - every problem.
    errors = models.JSONField(default=list)
    error_count = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]


class CheckIn(models.Model):
    """A voter checked in at a station: who and where, never which token they drew."""

    class LedgerState(models.TextChoices):
        PENDING = "pending", _("Pending")
        COMMITTED = "committed", _("Committed")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="checkins")
    roll_entry = models.OneToOneField(VoterRollEntry, on_delete=models.PROTECT, related_name="checkin")
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="checkins")
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_in_at = models.DateTimeField()
    ledger_checkin_id = models.CharField(max_length=64, unique=True)
    ledger_state = models.CharField(max_length=16, choices=LedgerState.choices, default=LedgerState.PENDING)
    ledger_tx_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["election", "station"], name="checkin_station_idx")]
