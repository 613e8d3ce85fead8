"""The observer dashboard: the list of elections one observes, the dashboard page and its JSON snapshot.

Views parse, call one selector and render; every check lives in ``audit.selectors``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from voting.access import Capability, get_capabilities

from .access import access_observed_election, list_observable_elections
from .errors import AuditError
from .rendering import render_sections
from .selectors import get_snapshot


def _error_page(request: HttpRequest, exc: AuditError) -> HttpResponse:
    return render(request, "audit/error.html", {"error": exc}, status=int(getattr(type(exc), "http_status", 400)))


@require_GET
@login_required
def observed_elections(request: HttpRequest) -> HttpResponse:
    elections = list_observable_elections(request.user).order_by("-opens_at", "-id")
    return render(request, "audit/election_list.html", {"elections": elections})


@require_GET
@login_required
def observer_dashboard(request: HttpRequest, election_id: int) -> HttpResponse:
    try:
        election = access_observed_election(request.user, election_id)
    except AuditError as exc:
        return _error_page(request, exc)
    snapshot = get_snapshot(election).to_dict()
    capabilities = get_capabilities(request.user, election)
    return render(request, "audit/dashboard.html", {
        "election": election, "snapshot": snapshot, "sections": render_sections(snapshot),
        "can_manage": Capability.MANAGE in capabilities, "can_check_in": Capability.CHECK_IN in capabilities,
        "can_view_turnout": Capability.VIEW_TURNOUT in capabilities,
        "can_view_results": Capability.VIEW_RESULTS in capabilities,
    })


@require_GET
def snapshot_json(request: HttpRequest, election_id: int) -> HttpResponse:
    """The dashboard's data; errors as {"code", "message", "detail"} with 401 or 404."""
    try:
        election = access_observed_election(request.user, election_id)
    except AuditError as exc:
        body = {"code": exc.code, "message": exc.message, "detail": exc.detail}
        return JsonResponse(body, status=int(getattr(type(exc), "http_status", 400)))
    return JsonResponse(get_snapshot(election).to_dict(), json_dumps_params={"ensure_ascii": False})
