"""Shared plumbing of the community pages: one clock, error pages, service errors onto forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..errors import CommunityError
from ..models import Community
from ..services import tree
from ..services.members import current_member


def get_now() -> datetime:
    """The clock of every community page (one seam, so tests can move time)."""
    return timezone.now()


def posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def render_error(request: HttpRequest, exc: CommunityError) -> HttpResponse:
    status = int(getattr(type(exc), "http_status", 400))
    return render(request, "communities/error.html", {"error": exc, "message": str(exc.message)}, status=status)


def add_service_errors(form: forms.Form, exc: CommunityError) -> None:
    """Per-field errors from detail["errors"], else the error's sentence on the form."""
    errors = exc.detail.get("errors")
    if isinstance(errors, dict):
        for field, messages in errors.items():
            for message in messages:
                form.add_error(field if field in form.fields else None, str(message))
        return
    form.add_error(None, str(exc.message))


def node_context(request: HttpRequest, community: Community, **extra: Any) -> dict[str, Any]:
    """What every node page shows in its head: breadcrumbs, the member, manager rights."""
    return {
        "community": community,
        "ancestors": tree.ancestors(community),
        "member": current_member(request),
        "is_manager": tree.is_manager(request.user, community),
        **extra,
    }
