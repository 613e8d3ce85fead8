"""``GET /health/``: is this web worker able to serve? For load balancers and monitoring.

200 when the database answers, 503 when it does not (the worker should be taken out of
rotation). The ledger nodes are reported but do not change the status code: every page and
API call already answers a clear error when no node is reachable, and a load balancer
cannot fix the ledger by restarting web workers. Nothing here needs a login or reveals more
than a node's own public status.
"""

from __future__ import annotations

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


def _ledger_reachable() -> dict[str, int]:
    from ledger.client import NodeClient

    client = NodeClient.from_settings()
    statuses = client.statuses()
    return {"configured": len(statuses), "reachable": sum(1 for value in statuses.values() if isinstance(value, dict))}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database = _database_ok()
    body = {"status": "ok" if database else "unavailable", "database": "ok" if database else "unavailable",
            "ledger_nodes": _ledger_reachable()}
    return JsonResponse(body, status=200 if database else 503)
