"""Token batches: which addresses were minted for a station. Private keys never reach this table."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .elections import Election
from .regions import PollingStation


class TokenBatch(models.Model):
    """The cards of one station: count and addresses minted on the ledger, and the one download."""

    class State(models.TextChoices):
        GENERATING = "generating", _("Generating")
        ISSUED = "issued", _("Issued and downloaded")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="token_batches")
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="token_batches")
    state = models.CharField(max_length=16, choices=State.choices, default=State.GENERATING)
    count = models.PositiveIntegerField(default=0)
    # Ledger addresses (40 hex) of the minted tokens, in card order; public data.
    addresses = models.JSONField(default=list)
    mint_tx_ids = models.JSONField(default=list)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["election", "station"], name="token_batch_unique_per_station"),
        ]
        verbose_name = _("token batch")
        verbose_name_plural = _("token batches")
