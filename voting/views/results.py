"""Live turnout (websocket-updated) and results with per-region breakdown, SVG charts and exports."""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .. import lifecycle
from ..access import Capability, access_election, get_capabilities
from ..errors import ElectionWrongStatus, NotFound, VotingError
from ..models import Election
from ..selectors import get_ledger_station_counts, get_results, get_turnout
from .common import base_context, election_view, render_error, spreadsheet_safe

PALETTE = ("#1d4ed8", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


@election_view(Capability.VIEW_TURNOUT)
def turnout(request: HttpRequest, election: Election) -> HttpResponse:
    snapshot = get_turnout(election, ledger_counts=get_ledger_station_counts(election))
    return render(request, "voting/turnout.html", base_context(
        request, election, turnout=snapshot, live=election.status == lifecycle.Status.OPEN,
    ))


@election_view(Capability.VIEW_TURNOUT)
def turnout_json(request: HttpRequest, election: Election) -> HttpResponse:
    return JsonResponse(get_turnout(election, ledger_counts=get_ledger_station_counts(election)))


def build_bars(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Horizontal bar chart rows (SVG drawn by the template): width in percent of the leader."""
    top = max((c["votes"] for c in candidates), default=0) or 1
    bars = []
    for i, c in enumerate(candidates):
        width = round(100 * c["votes"] / top, 2)
        bar_px = round(width * 4.4, 1)
        bars.append({**c, "width": width, "color": PALETTE[i % len(PALETTE)], "y": i * 44, "bar_px": bar_px,
                     "label_x": bar_px + 6})
    return bars


def build_stacks(rows: list[dict[str, Any]], candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One 100 % stacked bar per region or station: segments with x offset and width in percent."""
    stacks = []
    for index, row in enumerate(rows):
        offset, segments = 0.0, []
        for ci, candidate in enumerate(candidates):
            votes = row["votes"].get(candidate["ledger_id"], 0)
            width = round(100 * votes / row["total"], 2) if row["total"] else 0
            segments.append({"x": offset, "width": width, "color": PALETTE[ci % len(PALETTE)],
                             "name": candidate["name"], "votes": votes})
            offset += width
        stacks.append({**row, "segments": segments, "y": index * 34,
                       "cells": [row["votes"].get(c["ledger_id"], 0) for c in candidates]})
    return stacks


def _results_or_error(request: HttpRequest, election: Election) -> dict[str, Any]:
    results = get_results(election)
    if results is None:
        raise ElectionWrongStatus(detail={"action": "view_results", "status": election.status})
    return results


def results_page(request: HttpRequest, election_id: int) -> HttpResponse:
    """Officials and observers after the tally; everyone once published (no sign-in needed then)."""
    try:
        election = access_election(request.user, election_id, Capability.VIEW_RESULTS)
    except VotingError as exc:
        return render_error(request, exc)
    request.capabilities = get_capabilities(request.user, election)  # type: ignore[attr-defined]
    try:
        results = _results_or_error(request, election)
    except VotingError as exc:
        return render_error(request, exc, election)
    context = base_context(request, election, results=results, bars=build_bars(results["candidates"]),
                           regions=build_stacks(results["regions"], results["candidates"]),
                           stations=build_stacks(results["stations"], results["candidates"]),
                           signed_in=request.user.is_authenticated,
                           chart_height=44 * len(results["candidates"]) + 4)
    return render(request, "voting/results.html", context)


def results_export(request: HttpRequest, election_id: int, fmt: str) -> HttpResponse:
    if fmt not in {"csv", "json"}:
        return render_error(request, NotFound(detail={"format": fmt}))
    try:
        election = access_election(request.user, election_id, Capability.VIEW_RESULTS)
        results = _results_or_error(request, election)
    except VotingError as exc:
        return render_error(request, exc)
    name = f"results-{election.ledger_id}"
    if fmt == "json":
        response = HttpResponse(json.dumps(results, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    ids = [c["ledger_id"] for c in results["candidates"]]
    # Titles and names are typed by officials (or imported): never let a spreadsheet run them as formulas.
    safe = spreadsheet_safe
    writer.writerow(["level", "code", "name", *[safe(c["name"]) for c in results["candidates"]], "total"])
    writer.writerow(["election", election.ledger_id, safe(election.title),
                     *[c["votes"] for c in results["candidates"]], results["total"]])
    for region in results["regions"]:
        writer.writerow(["region", "", safe(region["name"]), *[region["votes"].get(i, 0) for i in ids],
                         region["total"]])
    for station in results["stations"]:
        writer.writerow(["station", safe(station["code"]), safe(station["name"]),
                         *[station["votes"].get(i, 0) for i in ids], station["total"]])
    return response
