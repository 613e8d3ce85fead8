"""One DRF exception handler: expected failures become {"code", "message", "detail"} JSON.

Domain errors carry a stable `code` and know nothing of HTTP beyond an optional
`http_status` class attribute (default 400). Anything that is not a project error or a DRF
APIException is left alone so genuine bugs remain 500s and reach the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

# Dotted paths rather than imports: the handler is loaded by DRF settings, and importing
# every app's errors at that moment would couple config/ to app import order.
PROJECT_ERROR_ROOTS: tuple[str, ...] = (
    "ledger.core.errors.LedgerError",
    "ledger.errors.LedgerServiceError",
    "voting.errors.VotingError",
    "kiosk.errors.KioskError",
    "mobile_api.errors.MobileApiError",
    "audit.errors.AuditError",
    "communities.errors.CommunityError",
)
DEFAULT_HTTP_STATUS = 400
INVALID_INPUT_CODE = "invalid_input"
PAYLOAD_TOO_LARGE_CODE = "payload_too_large"  # the ledger node's code for the same refusal


@cache
def get_project_error_roots() -> tuple[type[Exception], ...]:
    """Import the error roots on first use; an unknown path is a bug and raises."""
    return tuple(import_string(path) for path in PROJECT_ERROR_ROOTS)


def build_error_body(code: str, message: str, detail: Any) -> dict[str, Any]:
    """The single error shape every API client parses."""
    return {"code": code, "message": message, "detail": detail}


def handle_project_error(exc: Exception) -> Response:
    """Render a domain error using its class-level code and optional http_status."""
    set_rollback()
    body = build_error_body(
        code=str(getattr(exc, "code")),
        message=str(getattr(exc, "message", "") or exc),
        detail=getattr(exc, "detail", None) or {},
    )
    return Response(body, status=getattr(type(exc), "http_status", DEFAULT_HTTP_STATUS))


def describe_api_exception(exc: exceptions.APIException) -> dict[str, Any]:
    """Translate DRF's detail (string, list or field mapping) into the project error shape."""
    if isinstance(exc, exceptions.ValidationError):
        return build_error_body(INVALID_INPUT_CODE, _("Invalid input."), exc.detail)
    if isinstance(exc.detail, exceptions.ErrorDetail):
        return build_error_body(exc.detail.code or exc.default_code, str(exc.detail), {})
    detail = exc.detail if isinstance(exc.detail, (Mapping, list)) else {}
    return build_error_body(str(exc.default_code), str(exc.default_detail), detail)


def describe_request_error(exc: SuspiciousOperation) -> tuple[int, dict[str, Any]]:
    """Status and body for a request Django refuses before any view logic (body over the limit, bad header).

    Without this an API client got Django's HTML "Bad Request" page (and the log a traceback)
    for a JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE; tests/fuzz/test_uploads.py covers it.
    """
    if isinstance(exc, RequestDataTooBig):
        return 413, build_error_body(PAYLOAD_TOO_LARGE_CODE, _("The request body is too large."),
                                     {"limit_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    return 400, build_error_body(INVALID_INPUT_CODE, _("Invalid input."), {})


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: map project errors and APIExceptions; return None for the rest."""
    if isinstance(exc, get_project_error_roots()) and hasattr(exc, "code"):
        return handle_project_error(exc)
    if isinstance(exc, SuspiciousOperation):
        set_rollback()
        status, body = describe_request_error(exc)
        return Response(body, status=status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    # DRF's handler sets auth and throttle headers and rolls back; we replace only the body.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = describe_api_exception(exc)
    return response
