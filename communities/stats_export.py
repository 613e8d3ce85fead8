"""What leaves the statistics engine: the dashboard snapshot, the pushed update, the CSV and JSON exports.

Pure functions over ``communities.stats.PollStats`` (no Django). ``results_visible`` is
decided by the caller (a poll without live results shows turnout only until it closes);
when it is false no option figure is included anywhere, in the push, the page or the
exports, so the dashboard never shows what the poll's settings hide. The ledger itself is
public, so this hides results from the dashboard's audience, not from someone who reads the
ballots off a node (docs/community-statistics.md says so).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from .stats import PollStats

SERIES_POINTS = 240  # points of a turnout line sent to a page; the JSON export has them all


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def is_results_visible(stats: PollStats, live_results: bool) -> bool:
    """Results while open only when the poll allows live results; always once the ledger says it closed."""
    return live_results or stats.status == "closed"


def unit_figures(stats: PollStats, unit: str) -> list[int]:
    """``[eligible, eligible weight, ballots, weight]`` of the unit's subtree (compact wire form)."""
    f = stats.figures[unit]
    return [f.eligible, f.eligible_weight, f.ballots, f.weight]


def unit_result(stats: PollStats, unit: str, *, rounds: bool = False) -> dict[str, Any]:
    """The unit's tally without the repeated counts; IRV rounds only when asked (exports, detail view)."""
    result = stats.result(unit)
    compact = {key: result[key] for key in ("totals", "winners", "tie", "passed") if key in result}
    if rounds and "rounds" in result:
        compact["rounds"] = result["rounds"]
    return compact


def describe_poll(stats: PollStats, visible: bool) -> dict[str, Any]:
    return {
        "poll": stats.poll_id, "title": stats.title, "method": stats.method, "weights": stats.weights,
        "anonymous": stats.anonymous, "eligible_published": stats.eligible_published, "status": stats.status, "opens_at": stats.opens_at,
        "closes_at": stats.closes_at, "height": stats.height, "time": stats.time, "results_visible": visible,
        "options": [{"id": option, "name": stats.option_names[option]} for option in stats.options],
    }


def build_snapshot(stats: PollStats, visible: bool) -> dict[str, Any]:
    """The whole tree for a page or a socket that just connected (root's turnout line sampled)."""
    units = [{"id": uid, "parent": stats.parent[uid], "name": stats.names[uid], "depth": stats.depth[uid],
              "figures": unit_figures(stats, uid), "result": unit_result(stats, uid) if visible else None}
             for uid in stats.order]
    root_series = stats.series.get(stats.root)
    return {"type": "snapshot", **describe_poll(stats, visible), "units": units,
            "series": {stats.root: root_series.points(SERIES_POINTS) if root_series else []}}


def get_view_units(stats: PollStats, unit: str) -> list[str]:
    """What a dashboard showing ``unit`` displays and keeps current: the unit and its direct children.

    The breadcrumb's ancestors are left out on purpose: every cast changes the root, so a
    view that followed its ancestors would get a frame after every block, whatever it shows.
    """
    return [unit, *stats.children.get(unit, ())]


def get_breadcrumb(stats: PollStats, unit: str) -> list[str]:
    """The unit's ancestors, root first (not including the unit)."""
    chain: list[str] = []
    parent = stats.parent[unit]
    while parent is not None:
        chain.append(parent)
        parent = stats.parent[parent]
    return chain[::-1]


def build_view(stats: PollStats, unit: str, visible: bool) -> dict[str, Any]:
    """The answer to a socket's ``view`` message: fresh figures of the unit, its breadcrumb and its children.

    The unit's turnout line comes along (sampled like the snapshot's root line), so drilling
    down needs no second request.
    """
    path = get_breadcrumb(stats, unit)
    shown = [*path, *get_view_units(stats, unit)]
    series = stats.series.get(unit)
    message: dict[str, Any] = {
        "type": "view", "unit": unit, "path": path, "poll": stats.poll_id, "status": stats.status,
        "height": stats.height, "time": stats.time, "results_visible": visible,
        "units": {uid: unit_figures(stats, uid) for uid in shown},
        "series": {unit: series.points(SERIES_POINTS) if series else []},
    }
    if visible:
        message["results"] = {uid: unit_result(stats, uid) for uid in shown}
    return message


@dataclass(frozen=True)
class UpdateParts:
    """One update, serialised once per unit so that each view's frame is a join of ready strings.

    ``head`` opens the frame (``{"type":"update","height":...,``); ``figures`` and ``results``
    hold ``"<unit>":<json>`` per changed unit (``results`` empty while results are hidden).
    ``tree_size`` lets a consumer see that the tree grew (``add_units``) and resend a snapshot.
    """

    number: int
    height: int
    head: str
    figures: dict[str, str]
    results: dict[str, str]
    visible: bool
    tree_size: int


def build_update_parts(stats: PollStats, units: set[str], visible: bool, number: int) -> UpdateParts:
    """The changed units' figures (and results, if visible) as per-unit JSON fragments, built once per update.

    Every changed unit's figures go with the block time, so a page can add the point to the
    turnout line it shows without asking for the series again.
    """
    ordered = [uid for uid in stats.order if uid in units]
    head = dumps({"type": "update", "height": stats.height, "time": stats.time, "status": stats.status,
                  "results_visible": visible})[:-1] + ","
    figures = {uid: dumps(uid) + ":" + dumps(unit_figures(stats, uid)) for uid in ordered}
    results = {uid: dumps(uid) + ":" + dumps(unit_result(stats, uid)) for uid in ordered} if visible else {}
    return UpdateParts(number, stats.height, head, figures, results, visible, len(stats.parent))


def compose_update(parts: UpdateParts, view: str, view_units: list[str]) -> str | None:
    """The update frame of one view: exactly the changed units it shows, or None when it shows none of them."""
    chosen = [uid for uid in view_units if uid in parts.figures]
    if not chosen:
        return None
    text = parts.head + '"view":' + dumps(view) + ',"units":{' + ",".join(parts.figures[uid] for uid in chosen) + "}"
    if parts.visible:
        text += ',"results":{' + ",".join(parts.results[uid] for uid in chosen) + "}"
    return text + "}"


def build_export(stats: PollStats, visible: bool, unit: str | None = None) -> dict[str, Any]:
    """The JSON export: every unit (or one) with figures, results with IRV rounds, and full turnout series."""
    chosen = [unit] if unit is not None else stats.order
    rows = []
    for uid in chosen:
        eligible, eligible_weight, ballots, weight = unit_figures(stats, uid)
        series = stats.series.get(uid)
        rows.append({
            "id": uid, "parent": stats.parent[uid], "name": stats.names[uid], "depth": stats.depth[uid],
            "eligible": eligible, "eligible_weight": eligible_weight, "ballots": ballots, "weight": weight,
            "result": unit_result(stats, uid, rounds=True) if visible else None,
            "series": series.points() if series else [],
        })
    return {**describe_poll(stats, visible), "root": stats.root, "units": rows,
            "series_fields": ["time_ms", "ballots", "weight"]}


def neutralise_formula(text: str) -> str:
    """Names come from the ledger: one starting like a formula must not run when a spreadsheet opens the file."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def build_csv(stats: PollStats, visible: bool) -> str:
    """One row per unit (subtree figures), option totals as columns; results left blank when hidden."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = ["unit", "parent", "name", "depth", "eligible", "eligible_weight", "ballots", "weight",
              "turnout_percent"]
    header += [f"total:{option}" for option in stats.options] + ["winners", "tie"]
    if stats.method == "yna":
        header.append("passed")
    writer.writerow(header)
    for uid in stats.order:
        eligible, eligible_weight, ballots, weight = unit_figures(stats, uid)
        turnout = f"{100 * ballots / eligible:.2f}" if eligible else ""
        row: list[Any] = [uid, stats.parent[uid] or "", neutralise_formula(stats.names[uid]), stats.depth[uid], eligible,
                          eligible_weight, ballots, weight, turnout]
        if visible:
            result = stats.result(uid)
            row += [result["totals"][option] for option in stats.options]
            row += [" ".join(result["winners"]), str(result["tie"]).lower()]
            if stats.method == "yna":
                row.append(str(result["passed"]).lower())
        else:
            row += [""] * (len(stats.options) + 2 + (stats.method == "yna"))
        writer.writerow(row)
    return buffer.getvalue()
