"""Shaping a poll's ledger tally for the results page (names instead of ids, IRV rounds as a table).

The numbers are the ledger's (``communities.ledger.get_tally``: ledger.core.polls.tally over the
committed ballots): the published snapshot once results are published, or the current
ledger state for polls that allow live results. Nothing is counted from this database.
"""

from __future__ import annotations

from typing import Any

from voting.ledger_gateway import get_gateway

from .. import ledger as poll_ledger
from ..models import Community, Poll

Status = Poll.Status


def get_visible_tally(poll: Poll) -> tuple[str, dict[str, Any] | None]:
    """(source, tally): "published" snapshot, "live" ledger state, or ("hidden", None)."""
    if poll.results:
        return "published", poll.results
    live_allowed = poll.live_results and poll.status in (Status.OPEN, Status.CLOSED)
    if live_allowed:
        return "live", poll_ledger.get_tally(get_gateway(), poll.ledger_id)
    return "hidden", None


def describe_results(poll: Poll) -> dict[str, Any]:
    source, tally = get_visible_tally(poll)
    if tally is None:
        return {"source": source}
    names = {o.key: o.name for o in poll.options.all()}
    order = list(names)
    result = tally["result"]
    winners = set(result["winners"])
    described: dict[str, Any] = {
        "source": source, "ballots": result["ballots"], "weight": result["weight"], "method": result["method"],
        "counts": tally.get("counts", {}), "tie": result["tie"], "passed": result.get("passed"),
        "winners": [names.get(w, w) for w in result["winners"]],
        "rows": [{"name": names[k], "key": k, "total": result["totals"].get(k, 0), "winner": k in winners}
                 for k in order],
        "weighted": poll.weighted,
    }
    if result["method"] == "ranked":
        described["round_headers"] = [names[k] for k in order]
        described["rounds"] = [
            {"round": r["round"], "exhausted": r["exhausted"],
             "eliminated": names.get(r["eliminated"], "") if r["eliminated"] else "",
             "cells": [r["counts"].get(k) for k in order]}
            for r in result["rounds"]
        ]
    if not poll.anonymous and tally.get("units"):
        described["units"] = _describe_units(poll, tally["units"], names)
    return described


def _describe_units(poll: Poll, units: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Per-unit roll-ups (a unit counts every ballot of its subtree), in tree order with depth for indenting."""
    nodes = Community.objects.filter(path__startswith=poll.community.path).order_by("path")
    rows = []
    for node in nodes.only("pk", "name", "depth"):
        unit = units.get(f"c{node.pk}")
        if unit is None:
            continue
        rows.append({"name": node.name, "indent": node.depth - poll.community.depth, "ballots": unit["ballots"],
                     "weight": unit["weight"], "winners": [names.get(w, w) for w in unit["winners"]] if unit["ballots"] else []})
    return rows
