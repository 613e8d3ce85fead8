"""Community polls as the web app knows them: the draft a manager edits, and per-member bookkeeping.

The ledger (contract ``poll``, docs/protocol.md) is the record of every ballot; these tables
hold what the ledger does not: the draft before it is published, which community the poll
belongs to, presentation options (live results), and who has already been registered or
been given an anonymous credential, so that each member gets exactly one.

What is deliberately NOT here: no table links a member to a ballot, and for anonymous polls
nothing links a member to the ledger address that votes (only the SHA-256 of the *blinded*
credential request is kept, which RFC 9474 blinding makes independent of the address). For
polls that are not anonymous the server does register each member's address itself, so it
does know member <-> address; the poll page says so before anyone votes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .tree import Community, Member, Proposal


class Poll(models.Model):
    """One poll scoped to a community subtree (the node ``community`` and everything below it)."""

    class Method(models.TextChoices):
        SINGLE = "single", _("Single choice")
        MULTI = "multi", _("Multiple choice (k of n)")
        YNA = "yna", _("Yes / no / abstain")
        RANKED = "ranked", _("Ranked choice (instant runoff)")
        SCORE = "score", _("Score voting")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Published, not open yet")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        PUBLISHED = "published", _("Results published")

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="polls")
    # The poll's id on the ledger (IDENT), fixed at creation so a retried publish reuses it.
    ledger_id = models.CharField(max_length=64, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    method = models.CharField(_("voting method"), max_length=10, choices=Method.choices)
    max_choices = models.PositiveSmallIntegerField(_("maximum marks (k)"), null=True, blank=True)
    score_max = models.PositiveSmallIntegerField(_("highest score"), null=True, blank=True)
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    anonymous = models.BooleanField(_("anonymous"), default=False)
    live_results = models.BooleanField(_("show results while open"), default=False)
    weighted = models.BooleanField(_("weighted voting"), default=False)
    prediction = models.BooleanField(_("prediction poll"), default=False)
    # The rule text put on the ledger for weighted polls (with the prediction polls it counts).
    weight_rule = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    status_changed_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField()
    proposal = models.OneToOneField(Proposal, on_delete=models.SET_NULL, null=True, blank=True, related_name="poll")
    create_tx = models.CharField(max_length=64, blank=True)
    # Prediction polls: the outcome a manager resolved, and the ledger anchor that records it.
    resolved_option = models.CharField(max_length=64, blank=True)
    resolution_tx = models.CharField(max_length=64, blank=True)
    # Weighted polls: SHA-256 of the weights basis document anchored on the ledger at close.
    weights_basis_sha256 = models.CharField(max_length=64, blank=True)
    # The ledger's own tally (ledger.core.polls.tally over the ledger ballots) when results were published.
    results = models.JSONField(null=True, blank=True)
    results_height = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-opens_at", "-pk"]
        indexes = [models.Index(fields=["community", "status"], name="poll_community_status_idx")]

    def __str__(self) -> str:
        return self.title


class PollOption(models.Model):
    """One option; ``key`` is its ledger id (``o1``.. or yes/no/abstain), ``position`` its order on the ballot."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=64)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "key"], name="poll_option_key_unique"),
            models.UniqueConstraint(fields=["poll", "position"], name="poll_option_position_unique"),
        ]


class PollRegistration(models.Model):
    """A member's one entitlement in one poll: a registered address (open polls) or an issued credential.

    Open (not anonymous) polls: ``address`` is the ledger address the server registered for
    this member, so the server knows who votes with it (stated on the page). Anonymous polls:
    ``address`` stays blank and ``blinded_sha256`` is the hash of the one blinded message
    signed for the member; the address that later enrols is never seen together with the member.
    """

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="registrations")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="poll_registrations")
    unit = models.CharField(max_length=64)
    weight = models.PositiveSmallIntegerField(default=1)
    address = models.CharField(max_length=40, blank=True)
    blinded_sha256 = models.CharField(max_length=64, blank=True)
    register_tx = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "member"], name="poll_registration_unique"),
        ]
        indexes = [models.Index(fields=["poll", "address"], name="poll_registration_address_idx")]
