"""Shared view plumbing: election access, mapping VotingError codes to pages and form errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..access import Capability, access_election, get_capabilities
from ..errors import ElectionWrongStatus, VotingError
from ..lifecycle import Status
from ..models import Election

View = Callable[..., HttpResponse]


def posted(request: HttpRequest) -> Any:
    """The POST data to bind a form to, or None on GET (an empty POST still binds and validates)."""
    return request.POST if request.method == "POST" else None


def uploaded(request: HttpRequest) -> Any:
    return request.FILES if request.method == "POST" else None


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, CWE-1236).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that Excel shows as text: uploaded or typed text starting like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def get_now() -> datetime:
    """The clock of every view (one seam, so tests can move time)."""
    return timezone.now()


def error_message(exc: VotingError) -> str:
    """The error's sentence for people: an election status is named as the UI names it ("투표 중", not "open")."""
    status = exc.detail.get("status")
    if isinstance(exc, ElectionWrongStatus) and isinstance(status, str) and status in Status.values:
        try:
            return str(exc.default_message) % {**exc.detail, "status": Status(status).label}
        except (KeyError, ValueError, TypeError):
            return exc.message
    return exc.message


def render_error(request: HttpRequest, exc: VotingError, election: Election | None = None) -> HttpResponse:
    """A friendly page for a refused action, with the error's HTTP status (404, 403, 409, ...)."""
    status = int(getattr(type(exc), "http_status", 400))
    extra = {"error": exc, "message": error_message(exc)}
    context = base_context(request, election, **extra) if election is not None else {**extra, "election": None}
    return render(request, "voting/error.html", context, status=status)


def election_view(capability: Capability = Capability.VIEW) -> Callable[[View], View]:
    """Sign-in required; resolve ``election_id`` with ``access_election``; VotingErrors become pages."""

    def decorate(view: View) -> View:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, election_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                election = access_election(request.user, election_id, capability)
            except VotingError as exc:
                return render_error(request, exc)
            request.capabilities = get_capabilities(request.user, election)  # type: ignore[attr-defined]
            try:
                return view(request, election, *args, **kwargs)
            except VotingError as exc:
                return render_error(request, exc, election)

        return wrapper

    return decorate


def add_service_errors(form: forms.Form, exc: VotingError) -> None:
    """Put a service's per-field errors (detail["errors"]) or its one message next to the right field."""
    errors = exc.detail.get("errors")
    if isinstance(errors, dict):
        for field, field_messages in errors.items():
            for message in field_messages:
                form.add_error(field if field in form.fields else None, message)
        return
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def flash_error(request: HttpRequest, exc: VotingError) -> None:
    messages.error(request, exc.message)


def base_context(request: HttpRequest, election: Election, **extra: Any) -> dict[str, Any]:
    capabilities = getattr(request, "capabilities", frozenset())
    return {
        "election": election,
        "can_manage": Capability.MANAGE in capabilities,
        "can_check_in": Capability.CHECK_IN in capabilities,
        "can_view_turnout": Capability.VIEW_TURNOUT in capabilities,
        "can_view_results": Capability.VIEW_RESULTS in capabilities,
        **extra,
    }
