"""The community world: a tree of nodes, the people in it, its managers, and proposals rising up it.

Nothing here is on the ledger. Members are people, not Django staff users, and their phone
numbers are kept only as the roll's keyed hash (voting.pii), so a dump of these tables does not
reveal who is who beyond the display names they chose. A node's place in the tree is kept twice:
as `parent` (the truth) and as the materialised `path` "/1/5/12/" (derived, rewritten by
communities.services.tree in one transaction on every move) so that a whole subtree is one
indexed prefix query, which the statistics roll-ups need for 100,000 members.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Community(models.Model):
    """One node of a community tree (province, city, district, branch ...); roots have no parent."""

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
        verbose_name=_("parent"),
    )
    slug = models.CharField(_("short name"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    path = models.CharField(max_length=1000, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    # Opt-in per tree (read on the root): polls of this tree may use registered weights.
    weighted_voting = models.BooleanField(_("weighted voting"), default=False)
    weight_rule = models.TextField(_("published weight rule"), blank=True, max_length=2000)
    # Endorsements a proposal of this node needs before it escalates or becomes poll-ready.
    endorsement_threshold = models.PositiveIntegerField(_("endorsement threshold"), default=10)
    # When set, proposals that reach the threshold here wait for a poll instead of escalating.
    proposals_become_polls = models.BooleanField(_("proposals become polls here"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "slug"], name="community_slug_unique_among_siblings"),
            models.UniqueConstraint(
                fields=["slug"], condition=Q(parent__isnull=True), name="community_root_slug_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def unit_id(self) -> str:
        """The node's identifier in a poll's ledger `units` (IDENT-safe, stable across renames/moves)."""
        return f"c{self.pk}"


class Member(models.Model):
    """A person in the communities world; signs in by invitation or SMS code, not with a password."""

    display_name = models.CharField(_("display name"), max_length=100)
    # voting.pii.compute_phone_hmac of the normalised number, or blank when none was given.
    phone_hmac = models.CharField(max_length=64, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(
                fields=["phone_hmac"], condition=~Q(phone_hmac=""), name="member_phone_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class Membership(models.Model):
    """A member belongs to a node; a member may belong to several nodes of one or more trees."""

    class Role(models.TextChoices):
        MEMBER = "member", _("member")

    class JoinedVia(models.TextChoices):
        INVITE = "invite", _("invitation link")
        ROLL = "roll", _("roll import")
        SMS = "sms", _("SMS verification")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="memberships")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    joined_via = models.CharField(max_length=10, choices=JoinedVia.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "community"], name="membership_unique"),
        ]


class CommunityManager(models.Model):
    """A staff user who manages a node and, through it, the node's whole subtree."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_roles")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="managers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "community"], name="community_manager_unique"),
        ]


class Invitation(models.Model):
    """A join link for one node; the token is in the link only, the table keeps its SHA-256."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="invitations")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField()
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)


class MemberOtpChallenge(models.Model):
    """One SMS code for member sign-in; mirrors mobile_api's OTP rules (hashed code, TTL, attempt limit)."""

    challenge_sha256 = models.CharField(max_length=64, unique=True)
    # Blank when the number matched no member: same answer, no SMS, can never verify.
    phone_hmac = models.CharField(max_length=64, blank=True)
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="member_otp_expires_idx")]


class Proposal(models.Model):
    """An idea posted in a node; endorsements push it up the tree until it becomes a poll."""

    class Status(models.TextChoices):
        OPEN = "open", _("collecting endorsements")
        ESCALATED = "escalated", _("escalated to the parent node")
        READY_FOR_POLL = "ready_for_poll", _("ready for a poll")
        CONVERTED = "converted", _("turned into a poll")
        WITHDRAWN = "withdrawn", _("withdrawn")

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="proposals")
    author = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="proposals")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), max_length=10000)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    # The node's threshold when the proposal was posted: changing the node's rule later is not retroactive.
    threshold = models.PositiveIntegerField()
    endorsement_count = models.PositiveIntegerField(default=0)
    # The proposal one level down that escalated into this one (null for proposals posted here).
    parent_proposal = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="escalated_to"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["community", "status"], name="proposal_community_status_idx")]


class Endorsement(models.Model):
    """One member's support for one proposal; the unique constraint is what makes endorsing race-safe."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="endorsements")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="endorsements")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "member"], name="endorsement_unique"),
        ]
