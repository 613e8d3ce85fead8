"""Web views of the ledger: the network status page (HTML, or JSON with ?format=json)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .client import NodeClient
from .network import get_network_overview


@require_GET
def network_status(request: HttpRequest) -> HttpResponse:
    """Every configured node side by side: height, head, divergence."""
    overview = get_network_overview(NodeClient.from_settings())
    if request.GET.get("format") == "json":
        return JsonResponse(overview.to_dict(), json_dumps_params={"ensure_ascii": False})
    return render(request, "ledger/status.html", {"overview": overview})
