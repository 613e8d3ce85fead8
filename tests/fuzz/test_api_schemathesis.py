"""Every HTTP API, generated requests: never a 5xx, and every 4xx is the project's typed error body.

Three surfaces, three generators:

- the DRF schema (``/api/schema/``: mobile, public tracking, and whatever lands there later, e.g.
  communities) through Schemathesis, every operation, with one extra check: a 4xx body is
  ``{"code", "message", "detail"}`` with a snake_case code. tests/mobile/test_openapi_schemathesis.py
  runs the mobile operations deeper against full schema conformance; here breadth is the point, so
  an operation added tomorrow is fuzzed without anyone writing a test;
- the kiosk booth API (left out of the public schema on purpose) through Hypothesis: any method,
  body and credential state;
- the node HTTP API (aiohttp, no OpenAPI document) through Hypothesis against a real ``run_node``
  process: generated paths, query strings and bodies.

``FUZZ_EXAMPLES=500`` raises every budget (docs/fuzzing.md).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.node.api import MAX_WAIT_MS
from tests.kiosk.support import Booth, KioskClient, setup_booth
from tests.mobile.conftest import mobile_settings

from .budget import examples

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*\Z")


def assert_typed_error(status: int, body: bytes, where: str) -> None:
    assert status < 500, f"{where}: {status} {body[:300]!r}"
    if status < 400:
        return
    try:
        error = json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"{where}: {status} is not JSON: {body[:200]!r}") from exc
    assert isinstance(error, dict) and {"code", "message", "detail"} <= set(error), f"{where}: {error!r}"
    assert isinstance(error["code"], str) and CODE_RE.match(error["code"]), f"{where}: code {error['code']!r}"
    assert isinstance(error["message"], str) and error["message"], f"{where}: {error!r}"
    assert isinstance(error["detail"], dict), f"{where}: {error!r}"


# --- the DRF schema ---------------------------------------------------------------------------------


@schemathesis.check
def typed_error_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """4xx answers carry the project's error body (config/api_errors.py)."""
    assert_typed_error(response.status_code, response.content, f"{case.method} {case.formatted_path}")
    return None


@pytest.fixture
def keep_the_test_connection() -> Iterator[None]:
    """As tests/mobile/test_openapi_schemathesis.py: in-process WSGI must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_world(settings: Any, tmp_path: Path, keep_the_test_connection: None, official: Any, election: Any,
              station: Any, station2: Any, transport: Any, now: datetime) -> Booth:
    """An open election on the in-process ledger with a paired kiosk, and the mobile API configured."""
    settings.MOBILE = mobile_settings(tmp_path)
    return setup_booth(official, election, {station: 2, station2: 1}, now)


schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=examples(12), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_schema_operation_answers_typed_errors_never_5xx(case: schemathesis.Case, api_world: Booth) -> None:
    # Only the server-error and typed-body checks: schema conformance in depth is the mobile test's job.
    response = case.call()
    assert_typed_error(response.status_code, response.content, f"{case.method} {case.formatted_path}")


# --- the kiosk booth API ----------------------------------------------------------------------------

KIOSK_PATHS = ["/kiosk/api/session", "/kiosk/api/token-check", "/kiosk/api/votes", "/kiosk/api/votes/{code}"]
json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["election", "address", "chain", "to", "sig", "v", "payload", "x"]) | st.text(max_size=8),
        inner, max_size=5),
    max_leaves=12,
)
raw_bodies = st.one_of(json_bodies.map(lambda v: json.dumps(v).encode()), st.binary(max_size=300),
                       st.just(b"{" * 5000), st.just(b"\xef\xbb\xbf{}"))


@pytest.mark.django_db
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(KIOSK_PATHS), code=st.text(max_size=70) | st.just("ab" * 32),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), body=raw_bodies,
       paired=st.booleans(), csrf=st.booleans())
def test_kiosk_api_answers_typed_errors_never_5xx(api_world: Booth, transport: Any, path: str, code: str,
                                                   method: str, body: bytes, paired: bool, csrf: bool) -> None:
    client = KioskClient(api_world.credential if paired else None)
    url = path.replace("{code}", urllib.parse.quote(code, safe="")) if "{code}" in path else path
    headers = {"X-CSRFToken": client.csrf} if csrf else {}
    response = client.client.generic(method, url, data=body, content_type="application/json", headers=headers)
    assert_typed_error(response.status_code, response.content, f"{method} {url}")
    assert transport.query("vote", "tally", {"election": api_world.election.ledger_id})["totals"]["spent"] == 0


# --- the node HTTP API (real process) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.voting.ledger_node import start_ledger_node

    node = start_ledger_node(tmp_path_factory.mktemp("fuzz-node"))
    try:
        yield node.url
    finally:
        assert node.stop() == 0


query_text = st.one_of(st.text(max_size=20), st.integers(-5, 2**60).map(str), st.sampled_from(
    ["", "0", "1", "-1", "1e3", "0x10", "9" * 30, " 1", "１"]))
wait_text = st.one_of(st.text(max_size=20).filter(lambda t: not t.isdigit()),
                      st.integers(-5, 1500).map(str), st.integers(MAX_WAIT_MS + 1, 2**60).map(str),
                      st.sampled_from(["", "1e3", "0x10", "9" * 30, " 1", "１", str(MAX_WAIT_MS + 1)]))
node_requests = st.one_of(
    st.tuples(st.just("POST"), st.just("/v1/txs"), raw_bodies),
    st.tuples(st.just("GET"), st.builds(lambda t: "/v1/txs/" + urllib.parse.quote(t, safe=""),
                                        st.text(max_size=70) | st.text("0123456789abcdefABCDEF", min_size=64,
                                                                         max_size=64)), st.just(b"")),
    # wait_ms is a real long-poll (up to MAX_WAIT_MS = 60 s for an unknown id): valid values stay short
    # so the sweep does not spend minutes waiting; out-of-range and malformed values are still drawn.
    st.tuples(st.just("GET"), st.builds(lambda t, w: f"/v1/txs/{'ab' * 32}?wait_ms={urllib.parse.quote(w)}",
                                        st.none(), wait_text), st.just(b"")),
    st.tuples(st.just("GET"), st.builds(lambda a, b: f"/v1/blocks?from={urllib.parse.quote(a)}&limit="
                                        f"{urllib.parse.quote(b)}", query_text, query_text), st.just(b"")),
    st.tuples(st.just("GET"), st.builds(lambda h: "/v1/blocks/" + urllib.parse.quote(h, safe=""), query_text),
              st.just(b"")),
    st.tuples(st.just("GET"), st.builds(
        lambda c, n, a: f"/v1/query/{urllib.parse.quote(c, safe='')}/{urllib.parse.quote(n, safe='')}"
                        f"?args={urllib.parse.quote(a)}",
        st.sampled_from(["vote", "system", "poll"]) | st.text(min_size=1, max_size=12),
        st.sampled_from(["tally", "election", "balance", "token"]) | st.text(min_size=1, max_size=12),
        json_bodies.map(json.dumps) | st.text(max_size=40)), st.just(b"")),
    st.tuples(st.just("GET"), st.builds(lambda u: "/v1/bundle?upto=" + urllib.parse.quote(u), query_text),
              st.just(b"")),
    st.tuples(st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
              st.sampled_from(["/v1/status", "/v1/genesis", "/metrics", "/v1/peer", "/v1/txs", "/", "/v1/nope"]),
              raw_bodies),
)


def call_node(url: str, method: str, path: str, body: bytes) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url + path, data=body if method in ("POST", "PUT") else None, method=method)
    try:
        # Longer than the node's longest legitimate answer (a long-poll of MAX_WAIT_MS).
        with urllib.request.urlopen(request, timeout=MAX_WAIT_MS / 1000 + 15) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


@settings(max_examples=examples(150), deadline=None)
@given(node_requests)
def test_node_api_answers_typed_errors_never_5xx(node_url: str, request_parts: tuple[str, str, bytes]) -> None:
    method, path, body = request_parts
    status, content, kind = call_node(node_url, method, path, body)
    assert_typed_error(status, content, f"{method} {path}")
    if status >= 400:
        assert kind.startswith("application/json"), (method, path, kind)


def test_node_api_oversized_body_is_413_typed(node_url: str) -> None:
    """The node's own limit (32 MiB, ledger/node/api.py MAX_BODY_BYTES): refused before decoding."""
    status, content, _ = call_node(node_url, "POST", "/v1/txs", b" " * (33 * 1024 * 1024))
    assert status == 413
    assert_typed_error(status, content, "POST /v1/txs (33 MiB)")
    assert json.loads(content)["code"] == "payload_too_large"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/track/", "/kiosk/api/votes/", "/api/v1/mobile/x/y"])
def test_unrouted_api_paths_get_the_typed_404(client: Any, path: str) -> None:
    """Found by the kiosk fuzz: an empty tracking code hit no route and got Django's HTML page."""
    response = client.get(path)
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert_typed_error(response.status_code, response.content, path)
    assert response.json()["code"] == "not_found"


def test_unrouted_page_paths_keep_the_html_404(client: Any) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
