"""Proposal pages: post on a node's agenda, the proposal with its path up the tree, endorse, convert."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..errors import CommunityError
from ..services import members, proposals, tree
from .common import add_service_errors, get_now, node_context, posted, render_error
from .forms import ProposalForm


def proposal_create(request: HttpRequest, community_id: int) -> HttpResponse:
    try:
        community = tree.access_community(community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    member = members.current_member(request)
    form = ProposalForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            proposal = proposals.post_proposal(member, community, **form.cleaned_data)
        except CommunityError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("communities:proposal_detail", proposal_id=proposal.pk)
    return render(request, "communities/proposal_form.html", node_context(
        request, community, form=form, may_post=members.is_member_in_subtree(member, community),
    ), status=400 if form.errors else 200)


def proposal_detail(request: HttpRequest, proposal_id: int) -> HttpResponse:
    try:
        proposal = proposals.access_proposal(proposal_id)
    except CommunityError as exc:
        return render_error(request, exc)
    member = members.current_member(request)
    path = proposals.get_proposal_path(proposal)
    poll = getattr(path[-1], "poll", None)  # set once a manager turned the last step into a poll
    return render(request, "communities/proposal.html", node_context(
        request, proposal.community, proposal=proposal, path=path, poll=poll,
        may_endorse=(proposal.status == proposal.Status.OPEN and members.is_member_in_subtree(member, proposal.community)
                     and not proposals.has_endorsed(member, proposal)),
        has_endorsed=proposals.has_endorsed(member, proposal),
        progress=min(100, proposal.endorsement_count * 100 // max(1, proposal.threshold)),
    ))


@require_POST
def proposal_endorse(request: HttpRequest, proposal_id: int) -> HttpResponse:
    try:
        proposal = proposals.access_proposal(proposal_id)
        proposal = proposals.endorse_proposal(members.current_member(request), proposal, get_now())
    except CommunityError as exc:
        return render_error(request, exc)
    if proposal.status == proposal.Status.ESCALATED:
        messages.success(request, _("Thank you. The proposal reached its threshold and went up to the next level."))
    elif proposal.status == proposal.Status.READY_FOR_POLL:
        messages.success(request, _("Thank you. The proposal reached its threshold and is ready for a poll."))
    else:
        messages.success(request, _("Thank you for your endorsement."))
    return redirect("communities:proposal_detail", proposal_id=proposal.pk)


@require_POST
def proposal_withdraw(request: HttpRequest, proposal_id: int) -> HttpResponse:
    try:
        proposal = proposals.access_proposal(proposal_id)
        proposals.withdraw_proposal(members.current_member(request), proposal, get_now())
    except CommunityError as exc:
        return render_error(request, exc)
    messages.success(request, _("Proposal withdrawn."))
    return redirect("communities:proposal_detail", proposal_id=proposal_id)


@require_POST
def proposal_convert(request: HttpRequest, proposal_id: int) -> HttpResponse:
    """A manager turns a poll-ready proposal into a draft poll and continues on the poll's edit page."""
    try:
        proposal = proposals.access_proposal(proposal_id)
        poll = proposals.convert_proposal_to_poll(request.user, proposal, get_now())
    except CommunityError as exc:
        return render_error(request, exc)
    messages.success(request, _("A draft poll was created from the proposal; check it and publish it."))
    return redirect("communities:poll_edit", poll=poll.ledger_id)
