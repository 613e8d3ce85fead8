"""The booth and tracking pages: strict CSP, no inline code, both languages, the pinned QR decoder."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.voting.inprocess_ledger import InProcessTransport

from .support import Booth, KioskClient, sign_vote

pytestmark = pytest.mark.django_db
STATIC = Path(settings.BASE_DIR) / "static"


class InlineCodeFinder(HTMLParser):
    """Collects every inline script, style element, style attribute and on* handler."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "style":
            self.problems.append("<style>")
        if tag == "script":
            self.scripts.append(names)
            if not names.get("src") and names.get("type") != "application/json":
                self.problems.append("inline <script>")
        for name, _value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")


def inline_code(html: str) -> InlineCodeFinder:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder


def test_booth_page_has_a_strict_csp_and_no_inline_code(booth: Booth) -> None:
    response = KioskClient(booth.credential).get("/kiosk/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert response["Permissions-Policy"].startswith("camera=(self)")
    assert response["Cache-Control"] == "no-store"
    finder = inline_code(response.content.decode())
    assert finder.problems == []
    assert {s.get("src") for s in finder.scripts if s.get("src")} == {
        "/static/vendor/jsqr/jsQR.js", "/static/kiosk/kiosk.js"}


def test_booth_page_carries_both_languages_and_no_secret(booth: Booth) -> None:
    html = KioskClient(booth.credential).get("/kiosk/").content.decode()
    data = json.loads(re.search(r'<script id="kiosk-strings" type="application/json">(.*?)</script>', html, re.S)
                      .group(1))  # type: ignore[union-attr]
    assert set(data) == {"ko", "en"}
    assert data["ko"]["ui"].keys() == data["en"]["ui"].keys()
    assert data["en"]["ui"]["confirm"] == "Confirm and cast my vote"
    assert data["ko"]["ui"]["confirm"] != data["en"]["ui"]["confirm"]
    assert data["ko"]["errors"]["token_spent"] != data["en"]["errors"]["token_spent"]
    assert booth.credential not in html


def test_unpaired_browser_gets_the_pairing_screen(booth: Booth) -> None:
    response = Client().get("/kiosk/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="credential"' in html and 'id="screen-ballot"' not in html
    assert inline_code(html).problems == []
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_vendored_jsqr_matches_its_recorded_hash() -> None:
    vendor = (STATIC / "vendor/jsqr/VENDOR.md").read_text()
    recorded = re.search(r"`jsQR.js` sha256 \| `([0-9a-f]{64})`", vendor)
    assert recorded is not None
    assert hashlib.sha256((STATIC / "vendor/jsqr/jsQR.js").read_bytes()).hexdigest() == recorded.group(1)
    assert "1.4.0" in vendor and (STATIC / "vendor/jsqr/LICENSE").exists()


def test_kiosk_script_never_sends_the_card_text_or_key() -> None:
    """The only requests the page makes carry the address (token check) and the signed bytes (vote)."""
    source = (STATIC / "kiosk/kiosk.js").read_text()
    calls = re.findall(r'callApi\("([a-z-]+)"', source)
    assert sorted(set(calls)) == ["session", "token-check", "votes"]
    check_call = source[source.index('callApi("token-check"'):][:200]
    assert "card.key.address" in check_call and "text" not in check_call
    assert "localStorage.setItem(OUTBOX_KEY" in source and "secret" not in source.lower().replace("no secret", "")


# --- public tracking --------------------------------------------------------------------------------


def test_tracking_reports_a_recorded_vote_without_the_choice(booth: Booth, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    candidate = booth.candidates[1]
    raw, tx_id = sign_vote(booth.cards["suwon-1"][0], transport.get_chain_id(), booth.election.ledger_id,
                           candidate.ledger_address)
    height = json.loads(client.vote(raw).content)["height"]
    public = Client()
    data = json.loads(public.get(f"/api/v1/track/{tx_id}").content)
    assert data["status"] == "recorded" and data["height"] == height and data["consistent"] is True
    assert data["block_hash"] == transport.block_hashes[height]
    page = public.get(f"/track/{tx_id}/")
    html = page.content.decode()
    assert page.status_code == 200 and str(height) in html and data["block_hash"] in html
    assert candidate.ledger_address not in html and candidate.name not in html
    assert candidate.ledger_address not in json.dumps(data)
    spaced = " ".join(tx_id[i:i + 8] for i in range(0, 64, 8))
    assert public.get("/track/", {"code": spaced.upper()}).status_code == 200  # typed from the receipt


def test_tracking_an_unknown_code_says_unknown(booth: Booth, transport: InProcessTransport) -> None:
    data = json.loads(Client().get(f"/api/v1/track/{'ab' * 32}").content)
    assert data["status"] == "unknown" and data["height"] is None


@pytest.mark.parametrize("code", ["abc", "zz" * 32, "ab" * 33])
def test_tracking_refuses_malformed_codes(booth: Booth, code: str) -> None:
    response = Client().get(f"/api/v1/track/{code}")
    assert (response.status_code, json.loads(response.content)["code"]) == (400, "tracking_code_invalid")
    assert Client().get("/track/", {"code": code}).status_code == 400


def test_tracking_page_in_korean_and_english(booth: Booth, transport: InProcessTransport) -> None:
    korean = Client(headers={"accept-language": "ko"}).get("/track/").content.decode()
    english = Client(headers={"accept-language": "en"}).get("/track/").content.decode()
    assert "Track your vote" in english and "Track your vote" not in korean



def test_officials_kiosk_page_links_the_pairing_screen(booth: Booth, official: Any) -> None:
    from django.urls import reverse

    client = Client()
    client.force_login(official)
    response = client.post(reverse("voting:kiosks", args=[booth.election.pk]),
                           {"station": booth.kiosk.station.pk, "label": "booth-2"})
    html = response.content.decode()
    assert 'id="kiosk-credential"' in html
    assert '<a href="/kiosk/" id="kiosk-pair-link">' in html
