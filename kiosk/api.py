"""The booth's JSON API (/kiosk/api/...) and the public tracking API (/api/v1/track/<code>).

Kiosk endpoints authenticate the device by its HttpOnly cookie on every call and keep
Django's CSRF protection for writes (the page sends the token in X-CSRFToken). Errors are
``{"code", "message", "detail"}`` through config.api_errors. Views parse, call one service,
answer.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import DEFAULT_HTTP_STATUS, build_error_body, get_project_error_roots
from voting.ledger_gateway import get_gateway
from voting.models import Kiosk

from .devices import get_request_kiosk
from .errors import CsrfFailed, InvalidInput
from .selectors import describe_session
from .services import VoteRequest, authorize_vote, check_token, get_vote_status, relay_vote
from .tracking import track_transaction


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: Any, reason: str) -> Any:
        return reason  # the caller raises a typed error instead of Django's HTML page


def enforce_csrf_on(request: HttpRequest) -> None:
    """Django's CSRF check (token header against cookie, origin), raising a typed error instead of a 403 page."""
    check = _CsrfCheck(lambda _request: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise CsrfFailed(detail={"reason": str(reason)})


class KioskApiView(APIView):
    """Base of the booth endpoints: device credential on every request, CSRF on writes, JSON only."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    kiosk: Kiosk

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            enforce_csrf_on(request._request)
        self.kiosk = get_request_kiosk(request._request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


def read_json_object(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise InvalidInput(detail={"reason": "expected a JSON object"})
    return data


# The booth endpoints serve the kiosk page only (device cookie + CSRF), so they stay out of the
# public OpenAPI schema; the public tracking endpoint is documented.
_BOOTH_ONLY = extend_schema(exclude=True)

_NODE_REPORT_FIELDS = {
    "node": serializers.CharField(), "status": serializers.CharField(),
    "height": serializers.IntegerField(allow_null=True), "block_hash": serializers.CharField(allow_null=True),
    "code": serializers.CharField(),
}
_TRACKING_REPORT = inline_serializer("TrackingReport", fields={
    "tracking_code": serializers.CharField(),
    "status": serializers.ChoiceField(choices=["recorded", "pending", "rejected", "unknown"]),
    "height": serializers.IntegerField(allow_null=True), "block_hash": serializers.CharField(allow_null=True),
    "consistent": serializers.BooleanField(), "nodes": inline_serializer("TrackingNodeReport", fields=_NODE_REPORT_FIELDS, many=True),
})


@_BOOTH_ONLY
class GetSessionApi(KioskApiView):
    """Station, chain id and the open elections with their ballots."""

    def get(self, request: Request) -> Response:
        return Response(describe_session(self.kiosk, get_gateway().chain_id, timezone.now()))


@_BOOTH_ONLY
class CheckTokenApi(KioskApiView):
    """Is this token (by address, derived in the browser; never the key) usable here now?"""

    def post(self, request: Request) -> Response:
        data = read_json_object(request)
        chain = data.get("chain")
        result = check_token(self.kiosk, election=data.get("election"), address=data.get("address"),
                             chain=chain if isinstance(chain, str) else None, now=timezone.now())
        return Response({"status": "ok", "election": result.election, "units": result.units})


@csrf_exempt  # checked inside with Django's own CSRF check, so that a failure is a typed JSON error
async def submit_vote_api(request: HttpRequest) -> HttpResponse:
    """Relay a vote signed in the booth; the body is the transaction's canonical JSON bytes, as signed.

    Async on purpose: the answer comes only once the vote is final (a block or two), and that
    wait runs in a worker thread, so other booths' requests are not queued behind it on
    Django's single thread for synchronous code. The database checks stay on that thread.
    """
    if request.method != "POST":
        return error_response("method_not_allowed", "POST only.", {}, 405)
    try:
        vote = await sync_to_async(authorize_request)(request)
        receipt = await sync_to_async(relay_vote, thread_sensitive=False)(vote)
    except get_project_error_roots() as exc:
        return error_response(str(getattr(exc, "code")), str(getattr(exc, "message", "") or exc),
                              getattr(exc, "detail", None) or {}, getattr(type(exc), "http_status", DEFAULT_HTTP_STATUS))
    return no_store(JsonResponse({"status": "recorded", "tracking_code": receipt.tracking_code,
                                  "height": receipt.height, "election": receipt.election}))


def authorize_request(request: HttpRequest) -> VoteRequest:
    """Device credential, CSRF token and the database half of the vote checks."""
    enforce_csrf_on(request)
    kiosk = get_request_kiosk(request)
    return authorize_vote(kiosk, request.body, now=timezone.now())


def error_response(code: str, message: str, detail: Any, status: int) -> HttpResponse:
    return no_store(JsonResponse(build_error_body(code, message, detail), status=status))


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@_BOOTH_ONLY
class GetVoteStatusApi(KioskApiView):
    def get(self, request: Request, tracking_code: str) -> Response:
        return Response(get_vote_status(tracking_code))


class TrackVoteApi(APIView):
    """Public: what every ledger node holds for a tracking code (status, height, block hash; never the choice)."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    renderer_classes = [JSONRenderer]

    @extend_schema(responses={200: _TRACKING_REPORT}, summary="Where a tracking code stands on every node")
    def get(self, request: Request, tracking_code: str) -> Response:
        return Response(track_transaction(tracking_code).as_dict())
