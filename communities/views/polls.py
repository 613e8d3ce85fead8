"""Poll pages: the list on a community node, the manager's form and actions, the ballot, receipt and results.

Views parse, call one service, render. Every page carries the same strict CSP as the mobile
page (no inline script or style); the ballot is one ES module (static/communities/poll.js)
that signs in the browser with static/ledger/evote.js and blindrsa.js.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mobile_api.page import content_security_policy
from voting.errors import VotingError
from voting.ledger_gateway import get_gateway

from ..errors import CommunityError
from ..models import Poll
from ..poll_forms import PollForm
from ..services import poll_voting, tree
from ..services import polls as services
from ..services.members import current_member
from ..services.poll_results import describe_results

ACTIONS = {
    "publish": services.publish_poll,
    "open": services.open_poll,
    "close": services.close_poll,
    "publish_results": services.publish_results,
}


def get_script_strings() -> dict[str, str]:
    """Messages poll.js shows (the API's own error messages arrive already translated)."""
    return {
        "choose_one": _("Choose an option first."),
        "choose_up_to": _("Choose at most %(k)s."),
        "marked": _("%(n)s of %(k)s marked."),
        "rank_first": _("Rank at least one option."),
        "score_all": _("Give every option a whole-number score in the allowed range."),
        "add": _("Add to my ranking"),
        "remove": _("Remove"),
        "up": _("Move up"),
        "down": _("Move down"),
        "step_sign": _("Signing your ballot in this browser…"),
        "step_credential": _("Getting the anonymous credential…"),
        "step_enrol": _("Enrolling the anonymous key on the ledger…"),
        "step_cast": _("Recording your vote on the ledger…"),
        "still_trying": _("Still trying to reach the server (attempt %(attempt)s). Do not close this page."),
        "done": _("Your vote is recorded in a final block."),
        "network_error": _("The server could not be reached. Check the connection and try again."),
        "unexpected": _("Something went wrong."),
        "browser_unsupported": _("This browser cannot create the keys needed to vote. Use a current browser."),
        "resume": _("A vote started on this browser was not finished; it is sent again as it was signed."),
    }


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Content-Security-Policy"] = content_security_policy()
    response["Cache-Control"] = "no-store"
    return response


def _error_page(request: HttpRequest, exc: CommunityError | VotingError) -> HttpResponse:
    status = int(getattr(type(exc), "http_status", 400))
    return _page(request, "communities/poll_error.html", {"code": exc.code, "message": str(exc.message)}, status)


def _access(ledger_id: str) -> Poll:
    try:
        return services.access_poll(ledger_id)
    except CommunityError as exc:
        raise Http404(str(exc.message)) from exc


@require_GET
def poll_list(request: HttpRequest, community_id: int) -> HttpResponse:
    """Polls a member of this node can vote in (this node's and those of the nodes above it)."""
    try:
        community = tree.access_community(community_id)
    except CommunityError as exc:
        raise Http404(str(exc.message)) from exc
    manager = tree.is_manager(request.user, community)
    polls = services.list_polls(community, include_drafts=manager)
    return _page(request, "communities/poll_list.html", {"community": community, "polls": polls, "is_manager": manager})


@require_http_methods(["GET", "POST"])
def poll_create(request: HttpRequest, community_id: int) -> HttpResponse:
    try:
        community = tree.access_community(community_id)
        services.validate_poll_manager(request.user, community)
    except CommunityError as exc:
        return _error_page(request, exc)
    form = PollForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            poll = services.create_poll(request.user, community, form.to_draft(), timezone.now())
        except CommunityError as exc:
            _add_errors(form, exc)
        else:
            return redirect("communities:poll_detail", poll=poll.ledger_id)
    return _page(request, "communities/poll_form.html", {"form": form, "community": community, "poll": None})


@require_http_methods(["GET", "POST"])
def poll_edit(request: HttpRequest, poll: str) -> HttpResponse:
    found = _access(poll)
    try:
        services.validate_poll_manager(request.user, found.community)
    except CommunityError as exc:
        return _error_page(request, exc)
    form = PollForm(request.POST or None, initial=PollForm.initial_from(found))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_poll(request.user, found, form.to_draft(), timezone.now())
        except CommunityError as exc:
            _add_errors(form, exc)
        else:
            return redirect("communities:poll_detail", poll=found.ledger_id)
    return _page(request, "communities/poll_form.html", {"form": form, "community": found.community, "poll": found})


def _add_errors(form: PollForm, exc: CommunityError) -> None:
    for name, problems in exc.detail.get("errors", {}).items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)
    if not exc.detail.get("errors"):
        form.add_error(None, str(exc.message))


@require_POST
def poll_action(request: HttpRequest, poll: str) -> HttpResponse:
    """A manager's lifecycle button (publish, open, close, publish results, resolve a prediction)."""
    found = _access(poll)
    action = request.POST.get("action", "")
    try:
        if action == "resolve":
            services.resolve_prediction(request.user, found, request.POST.get("outcome", ""), timezone.now())
        elif action in ACTIONS:
            ACTIONS[action](request.user, found, timezone.now())
        else:
            return _page(request, "communities/poll_error.html",
                         {"code": "unknown_action", "message": _("Unknown action.")}, 400)
    except (CommunityError, VotingError) as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Done."))
    return redirect("communities:poll_detail", poll=found.ledger_id)


@require_GET
def poll_detail(request: HttpRequest, poll: str) -> HttpResponse:
    """The ballot page (members in scope), with the manager's panel for managers."""
    found = _access(poll)
    member = current_member(request)
    manager = tree.is_manager(request.user, found.community)
    if found.status == Poll.Status.DRAFT and not manager:
        raise Http404(_("No such poll."))
    registration = poll_voting.get_registration(found, member)
    in_scope = member is not None and member.pk in poll_voting.get_member_units(found, member)
    # After publication only the members counted then may vote (the ledger's eligible counts).
    eligible = in_scope if found.status == Poll.Status.DRAFT else registration is not None
    context = {
        "poll": found, "options": list(found.options.all()), "member": member, "eligible": eligible,
        "joined_late": in_scope and not eligible,
        "registration": registration, "is_manager": manager,
        "actions": [a for a in ACTIONS if services.is_allowed(found, a)] if manager else [],
        "can_resolve": manager and found.prediction and not found.resolved_option
        and found.status in (Poll.Status.CLOSED, Poll.Status.PUBLISHED),
        "votable": eligible and found.status == Poll.Status.OPEN and timezone.now() < found.closes_at,
        "script_strings": get_script_strings(),
    }
    return _page(request, "communities/poll_detail.html", context)


@require_GET
def poll_receipt(request: HttpRequest, poll: str, tracking_code: str) -> HttpResponse:
    """The voter's receipt: the tracking code and where it stands on the ledger (never the ballot)."""
    found = _access(poll)
    if len(tracking_code) != 64 or not set(tracking_code) <= set("0123456789abcdef"):
        raise Http404(_("A tracking code is 64 hexadecimal digits."))
    try:
        info = get_gateway().tx_status(tracking_code)
    except VotingError:
        info = None
    return _page(request, "communities/poll_receipt.html", {"poll": found, "tracking_code": tracking_code, "info": info})


@require_GET
def poll_results(request: HttpRequest, poll: str) -> HttpResponse:
    found = _access(poll)
    try:
        results = describe_results(found)
    except VotingError as exc:
        return _error_page(request, exc)
    return _page(request, "communities/poll_results.html", {"poll": found, "results": results})


@require_GET
def poll_weights_basis(request: HttpRequest, poll: str) -> JsonResponse:
    """The weights basis document whose SHA-256 is anchored at close (label poll-weights:<poll>)."""
    found = _access(poll)
    if not found.weighted or found.status in (Poll.Status.DRAFT, Poll.Status.SCHEDULED, Poll.Status.OPEN):
        return JsonResponse({"code": "weights_basis_unavailable", "message": _("Published when the weighted poll closes."),
                             "detail": {}}, status=404)
    basis = services.build_poll_weights_basis(found)
    response = JsonResponse(basis)
    response["Content-Disposition"] = f'attachment; filename="{found.ledger_id}-weights.json"'
    return response
