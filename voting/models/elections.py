"""Elections and their candidates (or options); ledger ids tie each row to its vote-contract record."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ledger.core.contracts.vote import candidate_address

from ..lifecycle import Status
from .regions import Region


def new_ledger_id() -> str:
    """A short random election id for the ledger (short keeps the token QR code small)."""
    return "e" + secrets.token_hex(5)


def new_checkin_secret() -> bytes:
    return secrets.token_bytes(32)


class Election(models.Model):
    """One election; everything that matters for the count is mirrored on the ledger when scheduled."""

    class Kind(models.TextChoices):
        SINGLE = "single", _("Single choice")
        APPROVAL = "approval", _("Approval (choose up to k)")
        YES_NO_ABSTAIN = "yes_no_abstain", _("Yes / no / abstain")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("ballot kind"), max_length=20, choices=Kind.choices, default=Kind.SINGLE)
    max_choices = models.PositiveSmallIntegerField(_("choices per voter"), default=1)
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="elections", verbose_name=_("region"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Voters on the roll with a phone number may vote by phone (SMS code + anonymous credential, mobile_api).
    mobile_voting = models.BooleanField(_("mobile voting"), default=False)
    ledger_id = models.CharField(max_length=64, unique=True, default=new_ledger_id, editable=False)
    # Keys the HMAC that turns a roll entry into its anonymous check-in id on the ledger.
    checkin_secret = models.BinaryField(max_length=32, default=new_checkin_secret, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opens_at", "-id"]
        verbose_name = _("election")
        verbose_name_plural = _("elections")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")), name="election_closes_after_opening"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Candidate(models.Model):
    """A candidate or ballot option; its ledger address is derived, so no key can spend from it."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="candidates")
    position = models.PositiveSmallIntegerField(_("ballot position"))
    name = models.CharField(_("name"), max_length=200)
    party = models.CharField(_("party or description"), max_length=200, blank=True)

    class Meta:
        ordering = ["election_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["election", "position"], name="candidate_position_unique"),
        ]
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")

    def __str__(self) -> str:
        return self.name

    @property
    def ledger_id(self) -> str:
        """The candidate's id in the vote contract: its ballot position, stable once scheduled."""
        return f"c{self.position}"

    @property
    def ledger_address(self) -> str:
        return candidate_address(self.election.ledger_id, self.ledger_id)


class ElectionTally(models.Model):
    """The count as read back from the ledger when the election was tallied (written once)."""

    election = models.OneToOneField(Election, on_delete=models.CASCADE, related_name="tally")
    taken_at = models.DateTimeField()
    ledger_height = models.PositiveBigIntegerField(null=True)
    # The vote contract's ``tally`` query: {"candidates": {cid: votes}, "stations": {...}, "totals": {...}}.
    ledger_tally = models.JSONField()
    # Votes per station and candidate, recounted from the committed transfer transactions.
    station_results = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("tally")
        verbose_name_plural = _("tallies")
