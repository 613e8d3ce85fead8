"""A poll's statistics: the live dashboard page and the CSV / JSON exports.

Views parse, check access through ``communities.stats_access``, bring the process's ledger
follower up to date and shape its figures with ``communities.stats_export``. Every number
comes from committed ledger blocks; results are left out while a poll without live results
is open, in the page and in both exports alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ledger.errors import NodeRequestFailed, NodeUnavailable

from ..errors import CommunityError
from ..follower import get_follower
from ..models import Poll
from ..stats import PollStats
from ..stats_access import access_poll_statistics, get_member_id
from ..stats_export import build_csv, build_export, is_results_visible


def _error(code: str, message: str, status: int, detail: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "detail": detail or {}}, status=status)


def _read(request: HttpRequest, ledger_id: str, build: Callable[[PollStats, bool], Any]) -> tuple[Poll, Any]:
    """Access check, follower caught up, then ``build(stats, results_visible)``; raises CommunityError / node errors."""
    poll = access_poll_statistics(request.user, get_member_id(request.session), ledger_id)
    follower = get_follower()
    follower.catch_up()
    return poll, follower.read(ledger_id, lambda stats: build(stats, is_results_visible(stats, poll.live_results)))


def _guarded(request: HttpRequest, ledger_id: str, build: Callable[[PollStats, bool], Any]) -> tuple[Poll, Any] | JsonResponse:
    try:
        poll, value = _read(request, ledger_id, build)
    except CommunityError as exc:
        return _error(exc.code, str(exc.message), int(getattr(type(exc), "http_status", 400)), exc.detail)
    except (NodeUnavailable, NodeRequestFailed):
        return _error("ledger_unavailable", _("No ledger node answered; try again shortly."), 503)
    if value is None:
        return _error("poll_not_on_ledger", _("This poll is not on the ledger yet."), 409, {"poll": ledger_id[:64]})
    return poll, value


@require_GET
def poll_stats_dashboard(request: HttpRequest, poll: str) -> HttpResponse:
    outcome = _guarded(request, poll, lambda stats, visible: stats.poll_id)
    if isinstance(outcome, JsonResponse):
        error = json.loads(outcome.content)
        return render(request, "communities/stats_error.html", {"error": error}, status=outcome.status_code)
    return render(request, "communities/stats_dashboard.html", {"poll": outcome[0]})


@require_GET
def poll_stats_json(request: HttpRequest, poll: str) -> HttpResponse:
    """The whole export, or ``?unit=<id>`` for one unit (the dashboard reads a unit's turnout line so)."""
    unit = request.GET.get("unit") or None

    def build(stats: PollStats, visible: bool) -> Any:
        if unit is not None and unit not in stats.parent:
            return {"missing_unit": True}
        return build_export(stats, visible, unit)

    outcome = _guarded(request, poll, build)
    if isinstance(outcome, JsonResponse):
        return outcome
    data = outcome[1]
    if data.get("missing_unit"):
        return _error("unit_not_found", _("This poll has no such unit."), 404, {"unit": str(unit)[:64]})
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    if unit is None:
        response["Content-Disposition"] = f'attachment; filename="{_file_name(poll)}.json"'
    return response


@require_GET
def poll_stats_csv(request: HttpRequest, poll: str) -> HttpResponse:
    outcome = _guarded(request, poll, build_csv)
    if isinstance(outcome, JsonResponse):
        return outcome
    text = outcome[1]
    # The byte-order mark lets spreadsheet programs read the Korean unit names as UTF-8.
    response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_file_name(poll)}.csv"'
    return response


def _file_name(ledger_id: str) -> str:
    """Ledger ids are IDENTs (letters, digits, . _ : -); ':' is not welcome in file names."""
    return "poll-" + ledger_id.replace(":", "_") + "-statistics"


# Mounted by communities/urls.py (namespace "communities").
urlpatterns = [
    path("communities/polls/<str:poll>/stats/", poll_stats_dashboard, name="poll_stats"),
    path("communities/polls/<str:poll>/stats.json", poll_stats_json, name="poll_stats_json"),
    path("communities/polls/<str:poll>/stats.csv", poll_stats_csv, name="poll_stats_csv"),
]
