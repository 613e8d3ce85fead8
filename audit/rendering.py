"""The dashboard's sections as HTML fragments, rendered the same way for the page and the live feed.

The websocket sends these fragments (plus the JSON data), so the live view can never drift
from what the page shows, and every sentence is translated by the server's catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

SECTIONS = ("anomalies", "nodes", "stations", "mobile", "candidates", "evidence", "contracts")


def _with_datetimes(data: dict[str, Any]) -> dict[str, Any]:
    """A copy with datetimes next to the ISO strings (last commits, snapshot time), so templates format them locally."""
    nodes = dict(data["nodes"])
    nodes["rows"] = [
        {**row, "last_commit_at": datetime.fromisoformat(row["last_commit"]) if row.get("last_commit") else None}
        for row in nodes["rows"]
    ]
    return {**data, "nodes": nodes, "generated_at_dt": datetime.fromisoformat(data["generated_at"])}


def render_sections(snapshot: dict[str, Any]) -> dict[str, SafeString]:
    """Each section's inner HTML, in the active language."""
    context = {"s": _with_datetimes(snapshot)}
    return {name: SafeString(render_to_string(f"audit/sections/{name}.html", context)) for name in SECTIONS}
