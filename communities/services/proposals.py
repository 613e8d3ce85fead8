"""Proposals rising up the tree: post in a node, collect endorsements, escalate, become a poll.

Who may endorse: members of the proposal's node or of any node below it (a district member
is also part of the city), so an escalated proposal can gather support from the whole
subtree it now speaks for. Endorsements do not carry over when a proposal escalates: the
parent node's members decide anew whether it matters at their level, with their threshold.

When the count reaches the threshold (snapshotted at posting, so changing a node's rule is
not retroactive) the proposal either escalates (a linked proposal is opened on the parent
node's agenda) or, at a root or a node configured with `proposals_become_polls`, waits as
`ready_for_poll` until a manager turns it into a poll. Race safety: the unique constraint on
(proposal, member) refuses a second endorsement, the count is incremented by a conditional
UPDATE on an open proposal, and the status changes by another conditional UPDATE that only
one transaction can win, so the escalation happens exactly once however many endorse at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from ..errors import AlreadyEndorsed, InvalidCommunityInput, NotAMember, ProposalNotFound, ProposalWrongStatus
from ..models import Community, Endorsement, Member, Proposal
from .members import validate_member_in_subtree
from .tree import User, validate_manager

MAX_TITLE = 200
MAX_BODY = 10_000
Status = Proposal.Status


def access_proposal(proposal_id: int) -> Proposal:
    """Proposals are public within the site (their path is meant to be seen)."""
    proposal = Proposal.objects.select_related("community", "author").filter(pk=proposal_id).first()
    if proposal is None:
        raise ProposalNotFound(detail={"proposal": proposal_id})
    return proposal


def post_proposal(member: Member | None, community: Community, *, title: str, body: str) -> Proposal:
    """A member of the node (or of a node below it) opens a proposal on the node's agenda."""
    validate_member_in_subtree(member, community)
    if member is None:  # unreachable after the check above; keeps the type checker informed
        raise NotAMember(detail={"community": community.pk})
    title, body = title.strip(), body.strip()
    errors: dict[str, list[str]] = {}
    if not (0 < len(title) <= MAX_TITLE):
        errors["title"] = [_("Enter a title of at most %(n)d characters.") % {"n": MAX_TITLE}]
    if not (0 < len(body) <= MAX_BODY):
        errors["body"] = [_("Enter a text of at most %(n)d characters.") % {"n": MAX_BODY}]
    if errors:
        raise InvalidCommunityInput(detail={"errors": errors})
    return Proposal.objects.create(community=community, author=member, title=title, body=body,
                                   threshold=community.endorsement_threshold)


def has_endorsed(member: Member | None, proposal: Proposal) -> bool:
    return member is not None and Endorsement.objects.filter(proposal=proposal, member=member).exists()


def endorse_proposal(member: Member | None, proposal: Proposal, now: datetime) -> Proposal:
    """Add the member's endorsement; escalate or mark poll-ready when it reaches the threshold."""
    validate_member_in_subtree(member, proposal.community)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Endorsement.objects.create(proposal=proposal, member=member)
        except IntegrityError as exc:
            raise AlreadyEndorsed(detail={"proposal": proposal.pk}) from exc
        counted = Proposal.objects.filter(pk=proposal.pk, status=Status.OPEN).update(
            endorsement_count=F("endorsement_count") + 1)
        if not counted:  # withdrawn, escalated or converted meanwhile: the endorsement is rolled back
            raise ProposalWrongStatus(detail={"proposal": proposal.pk})
        community = proposal.community
        next_status = (Status.READY_FOR_POLL if community.parent_id is None or community.proposals_become_polls
                       else Status.ESCALATED)
        reached = Proposal.objects.filter(
            pk=proposal.pk, status=Status.OPEN, endorsement_count__gte=F("threshold"),
        ).update(status=next_status, decided_at=now)
        if reached and next_status == Status.ESCALATED:
            _open_on_parent_agenda(proposal)
    proposal.refresh_from_db()
    return proposal


def _open_on_parent_agenda(proposal: Proposal) -> Proposal:
    parent = Community.objects.get(pk=proposal.community.parent_id)
    return Proposal.objects.create(
        community=parent, author_id=proposal.author_id, title=proposal.title, body=proposal.body,
        threshold=parent.endorsement_threshold, parent_proposal=proposal,
    )


def withdraw_proposal(member: Member | None, proposal: Proposal, now: datetime) -> Proposal:
    """The author withdraws a proposal that is still collecting endorsements."""
    if member is None or proposal.author_id != member.pk:
        raise NotAMember(detail={"proposal": proposal.pk})
    if not Proposal.objects.filter(pk=proposal.pk, status=Status.OPEN).update(
            status=Status.WITHDRAWN, decided_at=now):
        raise ProposalWrongStatus(detail={"proposal": proposal.pk})
    proposal.refresh_from_db()
    return proposal


def convert_proposal_to_poll(by_user: User, proposal: Proposal, now: datetime) -> Any:
    """A manager of the node turns a poll-ready proposal into a (draft) poll; returns the poll."""
    # Imported here: the polls service imports the tree services, and this module is imported by views early.
    from .polls import create_poll_from_proposal

    validate_manager(by_user, proposal.community)
    if proposal.status not in (Status.READY_FOR_POLL, Status.CONVERTED):
        raise ProposalWrongStatus(detail={"proposal": proposal.pk, "status": proposal.status})
    with transaction.atomic():
        poll = create_poll_from_proposal(proposal, by_user, now)
        Proposal.objects.filter(pk=proposal.pk, status=Status.READY_FOR_POLL).update(status=Status.CONVERTED)
    proposal.refresh_from_db()
    return poll


def get_proposal_path(proposal: Proposal) -> list[Proposal]:
    """Every step of the proposal's journey, from the node it was posted in up to where it is now."""
    origin = proposal
    while origin.parent_proposal_id is not None:
        origin = Proposal.objects.select_related("community").get(pk=origin.parent_proposal_id)
    steps = [origin]
    while True:
        nxt = Proposal.objects.select_related("community").filter(parent_proposal=steps[-1]).first()
        if nxt is None:
            return steps
        steps.append(nxt)
