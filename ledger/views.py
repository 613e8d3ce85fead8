"""Web views of the ledger: the network status page (HTML, or JSON with ?format=json)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .client import NodeClient
from .selectors import get_named_network_overview, get_node_names

__all__ = ["NodeClient", "get_node_names", "network_status"]


@require_GET
def network_status(request: HttpRequest) -> HttpResponse:
    """Every configured node side by side: height, head, divergence."""
    overview, rows = get_named_network_overview(NodeClient.from_settings())
    if request.GET.get("format") == "json":
        data = overview.to_dict()
        for node, row in zip(data["nodes"], rows):
            node["name"] = row["name"]
        return JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    name_of = {row["node_id"] or row["node"].url: row["name"] for row in rows}
    diverged_names = [name_of.get(key) or key for key in overview.diverged]
    return render(request, "ledger/status.html", {
        "overview": overview, "rows": rows, "diverged_names": diverged_names,
    })
