"""A voter in the booth, in real Chromium, on a real 4-node ledger: camera scan and keyboard-wedge scan.

The cards are the real printed PDF from ``issue_tokens``, rendered with PDFium. For the
camera path one card's QR region is written as a Y4M video and fed to Chromium's fake
camera (``--use-file-for-fake-video-capture``); the page decodes the frames itself (jsQR).
For the scanner path a Chromium without any camera gets the card text typed into the page,
keys then Enter, as a keyboard-wedge scanner does. Each vote must be final on every node,
the re-used card must be refused with nothing submitted, and the tracking code must verify
on the public /track/ page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from ledger.client import NodeClient
from tests.kiosk.network import network_gateway, start_network, stop_network
from tests.kiosk.support import Booth, setup_booth
from tests.ledger.faults.cluster import ProcessNetwork
from tests.voting.factories import ensure_seed_data, make_election, make_station
from tests.voting.pdf_text import render_pages
from voting.ledger_gateway import LedgerGateway, set_gateway
from voting.models import Region
from voting.access import OFFICIALS_GROUP

from .conftest import CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]
PASSWORD = "a long enough pass phrase"
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "kiosk.png"
FRAME = (640, 480)


@pytest.fixture(scope="module")
def ledger_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessNetwork]:
    network = start_network(tmp_path_factory.mktemp("e2e-kiosk-net"))
    yield network
    stop_network(network)


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def gateway(ledger_network: ProcessNetwork, settings: Any) -> Iterator[LedgerGateway]:
    settings.VOTING = {**settings.VOTING, "ISSUANCE_WORKERS": 1}
    gateway = network_gateway(ledger_network)
    set_gateway(gateway)
    yield gateway
    set_gateway(None)


def open_booth(now: datetime, **election: Any) -> Booth:
    """An open election with 3 cards (the real PDF) and a kiosk at one station."""
    ensure_seed_data()
    official = User.objects.create_user("official", password=PASSWORD)
    official.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
    suwon = Region.objects.get(code="suwon")
    station = make_station("suwon-1", suwon, "수원 제1투표소")
    created = make_election(official, suwon, now, **{"title": "Suwon mayor 2026", **election})
    return setup_booth(official, created, {station: 3}, now)


def card_image(pdf: bytes, payload: str) -> Any:
    """The printed card around the QR code holding ``payload``, cut from the rendered PDF page."""
    import zxingcpp

    for page in render_pages(pdf, scale=3.0):
        for found in zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode):
            if found.text != payload:
                continue
            corners = [found.position.top_left, found.position.top_right, found.position.bottom_left,
                       found.position.bottom_right]
            left, right = min(p.x for p in corners), max(p.x for p in corners)
            top, bottom = min(p.y for p in corners), max(p.y for p in corners)
            margin = (right - left) // 3
            return page.crop((left - margin, top - margin, right + margin, bottom + margin))  # type: ignore[attr-defined]
    raise AssertionError("card not found in the PDF")


def write_y4m(image: Any, path: Path, frames: int = 5) -> None:
    """A short 4:2:0 Y4M video of ``image`` centred on white (Chromium loops it as the camera)."""
    from PIL import Image

    canvas = Image.new("RGB", FRAME, "white")
    card = image.convert("RGB")
    card.thumbnail((FRAME[0] - 40, FRAME[1] - 40))
    canvas.paste(card, ((FRAME[0] - card.width) // 2, (FRAME[1] - card.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (FRAME[0] // 2, FRAME[1] // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + planes)


def pair(page: Any, base: str, booth: Booth) -> None:
    page.goto(base + "/kiosk/")
    expect(page.locator("#pair-title")).to_be_visible()
    page.fill("#id_credential", booth.credential)
    page.click("button[type=submit]")
    expect(page.locator("#screen-welcome")).to_be_visible()


def spent(gateway: LedgerGateway, booth: Booth) -> int:
    return int(gateway.get_tally(booth.election.ledger_id)["totals"]["spent"])


def assert_final_on_every_node(network: ProcessNetwork, booth: Booth, tracking_code: str) -> None:
    network.wait_same_head(timeout=60)
    for url in network.urls:
        status = NodeClient([url]).get_tx(tracking_code)
        assert status.status == "committed", (url, status)
    tallies = [NodeClient([url]).query("vote", "tally", {"election": booth.election.ledger_id}) for url in network.urls]
    assert all(t == tallies[0] for t in tallies)


def verify_on_track_page(page: Any, base: str, tracking_code: str, nodes: int) -> None:
    page.goto(base + "/track/")
    page.fill("#id_code", tracking_code)
    page.click("main button[type=submit]")
    expect(page.locator("#track-result")).to_have_attribute("data-status", "recorded")
    expect(page.locator("tr.node-committed")).to_have_count(nodes)


def test_voter_scans_a_card_with_the_camera_and_the_reused_card_is_refused(
    asgi_server: str, gateway: LedgerGateway, ledger_network: ProcessNetwork, chromium_path: str,
    tmp_path: Path, now: datetime,
) -> None:
    booth = open_booth(now)
    card, pdf = booth.cards["suwon-1"][0], booth.pdfs["suwon-1"]
    video = tmp_path / "card.y4m"
    write_y4m(card_image(pdf, card), video)
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=args, headless=True)
        context = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 860})
        context.grant_permissions(["camera"], origin=asgi_server)
        page = context.new_page()
        page.set_default_timeout(30_000)
        pair(page, asgi_server, booth)
        page.click("#start")
        expect(page.locator("#screen-ballot")).to_be_visible()  # the camera read the card
        expect(page.locator("#ballot-options .option")).to_have_count(2)
        page.click("[data-lang-switch=ko]")  # the screenshot in Korean, the default; switching keeps the ballot
        expect(page.locator("#ballot-title")).to_have_text("투표용지")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        page.click("[data-lang-switch=en]")
        page.check("#ballot-options input[value='%s']" % booth.candidates[1].ledger_address)
        page.click("#to-review")
        expect(page.locator("#review-list")).to_contain_text(booth.candidates[1].name)
        page.click("#confirm")
        expect(page.locator("#screen-done")).to_be_visible()
        tracking_code = page.get_attribute("#tracking-code", "data-tracking-code")
        assert tracking_code and re.fullmatch(r"[0-9a-f]{64}", tracking_code)
        assert page.evaluate("window.localStorage.length") == 0  # delivered: the outbox is empty
        assert_final_on_every_node(ledger_network, booth, tracking_code)
        assert spent(gateway, booth) == 1

        page.click("#finish")
        expect(page.locator("#screen-welcome")).to_be_visible()
        page.click("#start")
        expect(page.locator("#scan-error")).to_contain_text("already been used")  # the same card again
        expect(page.locator("#screen-ballot")).to_be_hidden()
        assert spent(gateway, booth) == 1
        verify_on_track_page(page, asgi_server, tracking_code, len(ledger_network.urls))
        browser.close()


def test_voter_uses_the_scanner_and_only_the_keyboard(
    asgi_server: str, gateway: LedgerGateway, ledger_network: ProcessNetwork, chromium_path: str, now: datetime,
) -> None:
    booth = open_booth(now)
    card = booth.cards["suwon-1"][1]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="ko-KR", viewport={"width": 1024, "height": 860})
        page = context.new_page()
        page.set_default_timeout(30_000)
        pair(page, asgi_server, booth)
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        page.click("[data-lang-switch=en]")
        expect(page.locator("#start")).to_have_text("Start")
        page.click("#contrast")
        page.click("#text-larger")
        expect(page.locator("html")).to_have_class(re.compile(r"\bcontrast\b.*\bscale-3\b|\bscale-3\b.*\bcontrast\b"))
        expect(page.locator("#contrast")).to_have_attribute("aria-pressed", "true")
        page.focus("#start")
        page.keyboard.press("Enter")
        expect(page.locator("#scan-input")).to_be_focused()
        expect(page.locator("#camera-state")).to_contain_text("No camera")
        page.keyboard.type("EV1~garbage~scan", delay=2)
        page.keyboard.press("Enter")
        expect(page.locator("#scan-error")).to_contain_text("not a vote token card")
        page.keyboard.type(card, delay=2)  # the scanner types the card, then Enter
        page.keyboard.press("Enter")
        expect(page.locator("#screen-ballot")).to_be_visible()
        expect(page.locator("#ballot-first")).to_be_focused()
        page.keyboard.press("ArrowDown")  # moves to and selects the second candidate
        page.keyboard.press("Tab")
        expect(page.locator("#to-review")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#review-list")).to_contain_text(booth.candidates[1].name)
        page.keyboard.press("Tab")
        expect(page.locator("#confirm")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#screen-done")).to_be_visible()
        tracking_code = page.get_attribute("#tracking-code", "data-tracking-code")
        assert tracking_code
        assert_final_on_every_node(ledger_network, booth, tracking_code)
        tally = gateway.get_tally(booth.election.ledger_id)
        assert tally["candidates"] == {"c1": 0, "c2": 1}

        expect(page.locator("#finish")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#start")).to_be_focused()
        expect(page.locator("html")).not_to_have_class(re.compile(r"\bcontrast\b"))  # the next voter starts afresh
        page.keyboard.press("Enter")
        page.keyboard.type(card, delay=2)
        page.keyboard.press("Enter")
        expect(page.locator("#scan-error")).to_contain_text("이미 투표에 사용")  # reset: Korean again
        assert spent(gateway, booth) == 1
        verify_on_track_page(page, asgi_server, tracking_code, len(ledger_network.urls))
        browser.close()


def test_booth_keeps_and_resends_the_signed_vote_until_it_is_final(
    asgi_server: str, gateway: LedgerGateway, ledger_network: ProcessNetwork, chromium_path: str, now: datetime,
) -> None:
    """The answer to the first attempt is lost (the vote did commit), the next attempts fail, the
    page is reloaded meanwhile: the very same signed vote is resent and counted exactly once."""
    booth = open_booth(now)
    card = booth.cards["suwon-1"][2]
    attempts: list[str] = []
    network_down = {"value": True}

    def flaky(route: Any) -> None:
        attempts.append(route.request.post_data or "")
        if len(attempts) == 1:
            route.fetch()  # the server records the vote ...
            route.abort("connectionreset")  # ... but the booth never hears back
        elif network_down["value"]:
            route.abort("connectionrefused")
        else:
            route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 860})
        page = context.new_page()
        page.set_default_timeout(30_000)
        pair(page, asgi_server, booth)
        page.route("**/kiosk/api/votes", flaky)
        page.click("#start")
        page.fill("#scan-input", card)
        page.press("#scan-input", "Enter")
        page.check("#ballot-first")
        page.click("#to-review")
        page.click("#confirm")
        expect(page.locator("body")).to_have_attribute("data-state", "retrying")
        expect(page.locator("#sending-title")).to_have_text("Still trying to record your vote")
        assert spent(gateway, booth) == 1  # the first attempt did land
        outbox = page.evaluate("JSON.parse(window.localStorage.getItem('evote-kiosk-outbox-v1'))")
        assert len(outbox) == 1 and outbox[0]["tx"] == attempts[0]
        assert card.split("~")[3] not in json_text(outbox)  # the signed vote is kept, never the key

        page.reload()  # power cut or a crashed tab: the outbox is delivered first
        expect(page.locator("body")).to_have_attribute("data-state", "retrying")
        network_down["value"] = False
        expect(page.locator("#screen-done")).to_be_visible(timeout=40_000)
        tracking_code = page.get_attribute("#tracking-code", "data-tracking-code")
        assert len(set(attempts)) == 1 and len(attempts) >= 3  # one signed vote, sent again and again
        assert tracking_code == outbox[0]["id"]
        assert page.evaluate("window.localStorage.getItem('evote-kiosk-outbox-v1')") is None
        assert_final_on_every_node(ledger_network, booth, tracking_code)
        assert spent(gateway, booth) == 1
        browser.close()


def json_text(value: Any) -> str:
    import json

    return json.dumps(value)


def test_approval_ballot_limits_the_marks_and_records_them_in_protocol_order(
    asgi_server: str, gateway: LedgerGateway, ledger_network: ProcessNetwork, chromium_path: str, now: datetime,
) -> None:
    from voting.services.elections import CandidateDraft

    names = ("Kim Minjun", "Lee Seoyeon", "Park Jiho")
    booth = open_booth(now, title="Citizens' budget 2026", kind="approval", max_choices=2,
                       candidates=tuple(CandidateDraft(name, "") for name in names))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(locale="en-US").new_page()
        page.set_default_timeout(30_000)
        pair(page, asgi_server, booth)
        page.click("#start")
        page.fill("#scan-input", booth.cards["suwon-1"][0])
        page.press("#scan-input", "Enter")
        expect(page.locator("#ballot-hint")).to_have_text("Choose up to 2.")
        boxes = page.locator("#ballot-options input[type=checkbox]")
        expect(boxes).to_have_count(3)
        boxes.nth(2).check()
        boxes.nth(0).check()
        boxes.nth(1).click()  # a third mark is one too many: refused with a message
        expect(page.locator("#ballot-error")).to_contain_text("already chosen 2")
        expect(boxes.nth(1)).not_to_be_checked()
        page.click("#to-review")
        expect(page.locator("#review-list li")).to_have_count(2)
        page.click("#confirm")
        expect(page.locator("#screen-done")).to_be_visible()
        tracking_code = page.get_attribute("#tracking-code", "data-tracking-code")
        assert tracking_code
        browser.close()
    assert_final_on_every_node(ledger_network, booth, tracking_code)
    tally = gateway.get_tally(booth.election.ledger_id)
    assert tally["candidates"] == {"c1": 1, "c2": 0, "c3": 1} and tally["unused"] == 0
