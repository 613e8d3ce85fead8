"""The officials' audit log for observers: the paginated, filterable page and the JSON Lines download."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from voting.views.audit import describe_actions

from .access import list_observable_elections
from .errors import AuditError
from .selectors.official_log import (
    access_official_log,
    get_filter_election,
    get_log_page,
    get_log_verification,
    get_public_key_info,
    iter_export,
    list_log_keys,
)
from .views import _error_page


@require_GET
@login_required
def official_log(request: HttpRequest) -> HttpResponse:
    try:
        access_official_log(request.user)
        election = get_filter_election(request.user, request.GET.get("election", ""))
    except AuditError as exc:
        return _error_page(request, exc)
    page, entries = get_log_page(election, request.GET.get("page", ""))
    return render(request, "audit/official_log.html", {
        "page": page, "entries": list(zip(entries, describe_actions(e.action for e in entries))),
        "election": election, "verification": get_log_verification(), "key": get_public_key_info(),
        "key_history": list_log_keys(),
        "elections": list_observable_elections(request.user).order_by("-opens_at", "-id"),
    })


@require_GET
@login_required
def official_log_export(request: HttpRequest) -> HttpResponse:
    try:
        access_official_log(request.user)
    except AuditError as exc:
        return _error_page(request, exc)
    response = StreamingHttpResponse(iter_export(), content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="officials-log.jsonl"'
    return response
