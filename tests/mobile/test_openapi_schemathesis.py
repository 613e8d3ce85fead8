"""Property tests from the OpenAPI schema: every mobile endpoint, generated inputs, no 5xx, no schema violation.

Schemathesis reads ``/api/schema/`` from the WSGI app in this process (no network server),
generates requests for every ``/api/v1/mobile/`` operation and checks each response against
the documented status codes, content types, headers and bodies, that invalid input is refused
with a 4xx, and that no request gives a 5xx. An
open mobile election exists meanwhile, so generated ids, phone numbers and transactions
reach the services, not only the serializers. Examples per operation are bounded to keep
the run near a minute on a small machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from .harness import MobileElection

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
MAX_EXAMPLES = 40


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """Do what Django's test client does: no ``close_old_connections`` around in-process requests.

    The plain WSGI handler closes "old" connections when a request finishes; inside the test's
    transaction the connection's autocommit differs from the settings, so on PostgreSQL it was
    closed mid-test and the next request failed with "the connection is closed" (SQLite's
    in-memory test database is never closed, which hid it).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Loaded at collection (pytest-django has configured Django by then); the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(path_regex=r"^/api/v1/mobile/")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_mobile_api_conforms_to_its_schema(case: schemathesis.Case, mobile: MobileElection) -> None:
    # positive_data_acceptance is left out on purpose: a body can match the schema and still be refused with
    # a typed 400 for rules JSON Schema cannot state (a tx's signature, a wrong one-time code).
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
