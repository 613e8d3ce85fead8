"""Every named URL answers with the security headers; every HTML page with a strict CSP and no inline code.

The walk covers whatever the URL map holds when the test runs (apps added later are walked
too): each pattern is reversed with real object ids where the parameter is known, else a
placeholder, and fetched both signed in as a superuser and anonymously. Whatever the status
(200, redirect, 404, 405), the headers must be there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch
from django.utils import timezone

from ledger.core.crypto import PrivateKey
from tests.voting.factories import ensure_seed_data, make_election, make_kiosk, make_station
from tests.voting.inprocess_ledger import InProcessTransport
from voting.ledger_gateway import LedgerGateway, set_gateway
from voting.models import Region

pytestmark = pytest.mark.django_db

STRICT_DIRECTIVES = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                     "base-uri 'none'", "frame-ancestors 'none'")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"|\son[a-z]+=\"", re.I)
# Django's admin ships its own templates; its inline-code audit belongs upstream, headers are still checked.
THIRD_PARTY_HTML = ("admin:",)
BOOTH_PAGES = frozenset({"kiosk:booth", "kiosk:pair", "kiosk:unpair"})  # the booth device's own pages


def iter_named_patterns(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (
                pattern.namespace or namespace)
            yield from iter_named_patterns(pattern, inner)
        elif pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


@pytest.fixture
def objects(settings: Any, tmp_path: Any) -> Iterator[dict[str, Any]]:
    """An election with a station and kiosk on an in-process ledger; no node is contacted."""
    settings.LEDGER = {**settings.LEDGER, "NODE_URLS": ["http://127.0.0.1:9"]}
    settings.VOTING = {**settings.VOTING, "AUDIT_LOG_KEY_FILE": tmp_path / "official-log.pem"}
    key = PrivateKey.generate()
    set_gateway(LedgerGateway(InProcessTransport(key), key, timeout_s=2))
    ensure_seed_data()
    admin = User.objects.create_superuser("root", password="x" * 20)
    region = Region.objects.get(code="suwon")
    station = make_station("suwon-1", region)
    election = make_election(admin, region, timezone.now())
    kiosk = make_kiosk(station, admin)
    ids = {"election_id": election.pk, "station_id": station.pk, "kiosk_id": kiosk.pk, "import_id": 1,
           "entry_id": 1, "object_id": election.pk, "content_type_id": 1, "id": admin.pk, "action": "open",
           "fmt": "csv", "tracking_code": "0" * 64, "app_label": "voting"}
    yield {"admin": admin, "ids": ids}
    set_gateway(None)


def build_path(name: str, pattern: URLPattern, ids: dict[str, Any]) -> str | None:
    converters = getattr(pattern.pattern, "converters", {})
    kwargs = {key: ids.get(key, 1 if type(conv).__name__ == "IntConverter" else "x")
              for key, conv in converters.items()}
    if not converters and pattern.pattern.regex.groupindex:  # a regex route (the admin's catch-alls)
        return None
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def assert_headers(name: str, path: str, response: Any) -> None:
    where = f"{name} {path} ({response.status_code})"
    csp = response.get("Content-Security-Policy", "")
    for directive in STRICT_DIRECTIVES:
        assert directive in csp, f"{where}: CSP lacks {directive!r}: {csp!r}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("Referrer-Policy") == "same-origin", where
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert response.get("X-Frame-Options") == "DENY", where
    permissions = response.get("Permissions-Policy", "")
    assert "microphone=()" in permissions and "geolocation=()" in permissions, where
    if name not in BOOTH_PAGES:  # the booth scans QR cards with its own origin's camera, nothing else may
        assert "camera=()" in permissions, f"{where}: {permissions}"
    if "text/html" in response.get("Content-Type", "") and not name.startswith(THIRD_PARTY_HTML):
        page = response.content.decode()
        assert not INLINE_SCRIPT.search(page), f"{where}: inline script"
        assert not INLINE_STYLE.search(page), f"{where}: inline style or event handler"


def test_every_named_url_sends_the_security_headers(objects: dict[str, Any]) -> None:
    signed_in, anonymous = Client(), Client()
    signed_in.force_login(objects["admin"])
    walked, html_pages = [], 0
    for name, pattern in iter_named_patterns():
        path = build_path(name, pattern, objects["ids"])
        if path is None:
            continue
        if name in {"voting:sign_out", "admin:logout", "kiosk:unpair"}:
            continue  # walked last (they end the session)
        for client in (signed_in, anonymous):
            response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
            assert response.status_code < 500, f"{name} {path}: {response.status_code}"
            assert_headers(name, path, response)
            html_pages += response.status_code == 200 and "text/html" in response.get("Content-Type", "")
        walked.append(name)
    for name in ("kiosk:unpair", "voting:sign_out", "admin:logout"):
        path = reverse(name)
        assert_headers(name, path, signed_in.post(path))
    expected = {"home", "voting:election_list", "voting:dashboard", "voting:audit_log", "voting:results",
                "audit:election_list", "audit:dashboard", "kiosk:booth", "kiosk:track", "mobile_api:page",
                "ledger:status", "admin:index", "audit:official_log"}
    assert expected <= set(walked), expected - set(walked)
    assert html_pages >= 30, html_pages


def test_the_booth_keeps_its_own_camera_policy_and_the_mobile_page_its_own_csp(objects: dict[str, Any]) -> None:
    booth = Client().get(reverse("kiosk:booth"))
    assert booth["Permissions-Policy"].startswith("camera=(self)")
    mobile = Client().get(reverse("mobile_api:page"))
    assert "connect-src 'self'" in mobile["Content-Security-Policy"]


def test_json_and_error_responses_carry_the_headers_too(objects: dict[str, Any]) -> None:
    for path in ("/health/", "/api/v1/mobile/elections/", "/no-such-page/"):
        response = Client().get(path)
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert response["X-Content-Type-Options"] == "nosniff", path
