"""The API exception handler turns expected failures into one JSON shape and leaves bugs as 500s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import translation
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from config.api_errors import api_exception_handler, get_project_error_roots
from voting.errors import VotingError


class BallotClosedError(VotingError):
    """A domain error as an app would define it."""

    code = "ballot_closed"
    http_status = 409


class RaisingApi(APIView):
    """A view that raises whatever the test hands it, to exercise DRF's real dispatch."""

    error: Exception = RuntimeError("unset")

    def get(self, request: Request) -> Response:
        raise self.error


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def handle(exc: Exception) -> Response:
    response = api_exception_handler(exc, {})
    assert response is not None
    return response


def test_project_error_maps_code_status_message_and_detail() -> None:
    response = handle(BallotClosedError("Voting has closed.", {"election_id": "e-1"}))
    assert response.status_code == 409
    assert response.data == {
        "code": "ballot_closed",
        "message": "Voting has closed.",
        "detail": {"election_id": "e-1"},
    }


@pytest.mark.parametrize("root", get_project_error_roots(), ids=lambda root: root.__name__)
def test_every_error_root_defaults_to_400_with_its_code(root: type[Exception]) -> None:
    response = handle(root("expected failure"))
    assert response.status_code == 400
    assert response.data["code"] == getattr(root, "code")
    assert response.data["message"] == "expected failure"
    assert response.data["detail"] == {}


def test_validation_error_becomes_invalid_input_with_field_errors() -> None:
    response = handle(exceptions.ValidationError({"phone": ["Enter a valid phone number."]}))
    assert response.status_code == 400
    assert response.data == {
        "code": "invalid_input",
        "message": "Invalid input.",
        "detail": {"phone": ["Enter a valid phone number."]},
    }


def test_api_exception_keeps_status_code_and_headers() -> None:
    response = handle(exceptions.Throttled(wait=7))
    assert response.status_code == 429
    assert response.data["code"] == "throttled"
    assert response["Retry-After"] == "7"


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Http404(), 404, "not_found"),
        (PermissionDenied(), 403, "permission_denied"),
        (exceptions.NotAuthenticated(), 401, "not_authenticated"),
    ],
)
def test_django_and_drf_errors_use_the_same_shape(exc: Exception, status: int, code: str) -> None:
    response = handle(exc)
    assert response.status_code == status
    assert set(response.data) == {"code", "message", "detail"}
    assert response.data["code"] == code


def test_unknown_exception_is_left_for_a_500() -> None:
    assert api_exception_handler(ValueError("bug"), {}) is None


def test_errors_without_project_root_are_not_mapped_even_with_a_code() -> None:
    class ForeignError(Exception):
        code = "foreign"

    assert api_exception_handler(ForeignError(), {}) is None


def call_raising_view(error: Exception) -> Any:
    view = RaisingApi.as_view(error=error)
    return view(APIRequestFactory().get("/raise/"))


def test_handler_is_installed_in_drf_settings() -> None:
    response = call_raising_view(BallotClosedError(detail={"election_id": "e-2"}))
    assert response.status_code == 409
    assert response.data["code"] == "ballot_closed"
    assert response.data["message"] == BallotClosedError.default_message


def test_drf_view_reraises_unknown_exceptions() -> None:
    with pytest.raises(RuntimeError, match="real bug"):
        call_raising_view(RuntimeError("real bug"))
