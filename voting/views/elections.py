"""Election list, create/edit, dashboard with the setup checklist, and the lifecycle buttons."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import lifecycle
from ..access import Capability, can_create_elections, list_elections_for
from ..errors import AccessDenied, VotingError
from ..forms import CandidateFormSet, CloseForm, ElectionForm, build_draft
from ..models import Election, OfficialAction, Region
from ..selectors import get_setup_checklist
from ..services import elections as services
from .audit import describe_actions
from .common import posted, add_service_errors, base_context, election_view, get_now, render_error

# Lazy: the module is imported once, the message is shown in each request's language.
LIFECYCLE_MESSAGES = {
    "schedule": gettext_lazy("The election is scheduled: candidates and times are now on the ledger."),
    "open": gettext_lazy("Voting is open."),
    "close": gettext_lazy("Voting is closed."),
    "tally": gettext_lazy("The votes are counted from the ledger."),
    "publish": gettext_lazy("The results are published."),
}


@login_required
def election_list(request: HttpRequest) -> HttpResponse:
    elections = list_elections_for(request.user).order_by("-opens_at")
    return render(request, "voting/election_list.html", {
        "elections": elections, "can_create": can_create_elections(request.user),
    })


def _candidate_initial(election: Election | None) -> list[dict[str, str]]:
    if election is None:
        return []
    return [{"name": c.name, "party": c.party} for c in election.candidates.all()]


def _election_initial(election: Election | None) -> dict[str, Any]:
    if election is None:
        return {"region": Region.objects.filter(parent__isnull=True).first(), "max_choices": 1}
    return {
        "title": election.title, "description": election.description, "kind": election.kind,
        "max_choices": election.max_choices, "region": election.region, "opens_at": election.opens_at,
        "closes_at": election.closes_at, "mobile_voting": election.mobile_voting,
    }


def _save_election(request: HttpRequest, election: Election | None) -> HttpResponse:
    form = ElectionForm(posted(request), initial=_election_initial(election))
    candidates = CandidateFormSet(posted(request), initial=_candidate_initial(election), prefix="candidates")
    if request.method == "POST" and form.is_valid() and candidates.is_valid():
        try:
            draft = build_draft(form, candidates)
            if election is None:
                election = services.create_election(request.user, draft, get_now())
            else:
                election = services.update_election(request.user, election, draft, get_now())
        except VotingError as exc:
            if exc.detail.get("errors", {}).get("candidates"):
                candidates.non_form_errors().extend(exc.detail["errors"].pop("candidates"))  # type: ignore[attr-defined]
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The election is saved."))
            return redirect("voting:dashboard", election_id=election.pk)
    return render(request, "voting/election_form.html", {
        "form": form, "candidates": candidates, "election": election,
    }, status=400 if request.method == "POST" else 200)


@login_required
def election_create(request: HttpRequest) -> HttpResponse:
    if not can_create_elections(request.user):
        return render_error(request, AccessDenied(detail={"capability": "create_election"}))
    return _save_election(request, None)


@election_view(Capability.MANAGE)
def election_edit(request: HttpRequest, election: Election) -> HttpResponse:
    lifecycle.validate_activity(election.status, "edit")
    return _save_election(request, election)


@election_view()
def dashboard(request: HttpRequest, election: Election) -> HttpResponse:
    checklist = get_setup_checklist(election)
    return render(request, "voting/dashboard.html", base_context(
        request, election, checklist=checklist, checklist_done=all(item.done for item in checklist),
        candidates=election.candidates.all(), lifecycle_allowed={
            action: lifecycle.is_allowed(election.status, action) for action in lifecycle.TRANSITIONS
        }, now=get_now(), statuses=lifecycle.Status.choices,
    ))


def _run_transition(request: HttpRequest, election: Election, action: str, **kwargs: Any) -> HttpResponse:
    verb = getattr(services, {"schedule": "schedule_election", "open": "open_election", "close": "close_election",
                              "tally": "tally_election", "publish": "publish_results"}[action])
    try:
        verb(request.user, election, get_now(), **kwargs)
    except VotingError as exc:
        messages.error(request, exc.message)
        if exc.code == "setup_incomplete":
            return redirect("voting:dashboard", election_id=election.pk)
        return redirect("voting:confirm", election_id=election.pk, action=action)
    messages.success(request, LIFECYCLE_MESSAGES[action])
    return redirect("voting:dashboard", election_id=election.pk)


@election_view(Capability.MANAGE)
def confirm_transition(request: HttpRequest, election: Election, action: str) -> HttpResponse:
    """GET: a confirmation page naming the consequences; POST: run the transition (idempotent)."""
    if action not in lifecycle.TRANSITIONS:
        return render_error(request, VotingError(_("Unknown action.")), election)
    form = CloseForm(posted(request)) if action == "close" else None
    if request.method == "POST":
        kwargs: dict[str, Any] = {}
        if form is not None and form.is_valid():
            kwargs["confirm_early"] = form.cleaned_data["confirm_early"]
        return _run_transition(request, election, action, **kwargs)
    now = get_now()
    return render(request, "voting/confirm.html", base_context(
        request, election, action=action, form=form, checklist=get_setup_checklist(election),
        early=action == "close" and now < election.closes_at, too_early=action == "open" and now < election.opens_at,
        done=lifecycle.is_done(election.status, action),
    ))


@election_view(Capability.MANAGE)
def audit_log(request: HttpRequest, election: Election) -> HttpResponse:
    actions = OfficialAction.objects.filter(election=election).select_related("actor")[:500]
    return render(request, "voting/audit_log.html", base_context(request, election, rows=describe_actions(actions)))


