"""Web views of the ledger: the network status page (HTML, or JSON with ?format=json)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .client import NodeClient
from .network import NetworkOverview, get_network_overview


class _StatusRecorder:
    """The node client, keeping the statuses the overview fetched so they are read only once."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.statuses_seen: dict[str, Any] = {}

    def statuses(self) -> dict[str, Any]:
        self.statuses_seen = dict(self._client.statuses())
        return self.statuses_seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def get_node_names(statuses: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Validator names by node id (from the genesis in each status) and node ids by URL (from peers).

    A node that does not answer is still named: the nodes that do answer list it among
    their peers, with its URL.
    """
    names: dict[str, str] = {}
    ids_by_url: dict[str, str] = {}
    for url, status in statuses.items():
        if not isinstance(status, dict):
            continue
        for validator in status.get("validators") or []:
            if isinstance(validator, dict) and validator.get("id") and validator.get("name"):
                names.setdefault(str(validator["id"]), str(validator["name"]))
        if status.get("node_id"):
            ids_by_url[url.rstrip("/")] = str(status["node_id"])
        for peer_id, peer in (status.get("peers") or {}).items():
            if isinstance(peer, dict) and peer.get("url"):
                ids_by_url.setdefault(str(peer["url"]).rstrip("/"), str(peer_id))
    return names, ids_by_url


def _rows(overview: NetworkOverview, statuses: dict[str, Any]) -> list[dict[str, Any]]:
    names, ids_by_url = get_node_names(statuses)
    rows = []
    for node in overview.nodes:
        node_id = node.node_id or ids_by_url.get(node.url.rstrip("/"), "")
        rows.append({"node": node, "node_id": node_id, "name": names.get(node_id, "")})
    return rows


@require_GET
def network_status(request: HttpRequest) -> HttpResponse:
    """Every configured node side by side: height, head, divergence."""
    client = _StatusRecorder(NodeClient.from_settings())
    overview = get_network_overview(client)  # type: ignore[arg-type]
    rows = _rows(overview, client.statuses_seen)
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
