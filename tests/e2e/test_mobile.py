"""A voter votes on a phone-sized Chromium: election -> phone + birth date -> SMS code -> ballot -> tracking code.

The web app runs under uvicorn in this process, the ledger is a real one-node network, the
code is read from the file SMS backend (what a developer sees), and the page runs with its
strict Content-Security-Policy (any violation would show as a console error, which fails the
test). The browser makes the token key, blinds, unblinds, mints and votes itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from playwright.sync_api import expect

from clients.evote_mobile import OtpFileReader
from ledger.client import NodeClient
from ledger.core.crypto import PrivateKey
from tests.mobile.conftest import mobile_settings
from tests.mobile.harness import MobileElection, build_mobile_election
from tests.voting.factories import ensure_seed_data, make_station
from tests.voting.ledger_node import LedgerNode, start_ledger_node
from voting.access import OFFICIALS_GROUP
from voting.ledger_gateway import LedgerGateway, NodeClientTransport, set_gateway
from voting.models import Region
from voting.services.elections import CandidateDraft

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def ledger_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerNode]:
    node = start_ledger_node(tmp_path_factory.mktemp("e2e-mobile-ledger"))
    yield node
    node.stop()


@pytest.fixture
def gateway(ledger_node: LedgerNode) -> Iterator[LedgerGateway]:
    key = PrivateKey.from_pem(ledger_node.authority_key_file.read_bytes())
    gateway = LedgerGateway(NodeClientTransport(NodeClient([ledger_node.url], timeout_s=5)), key, timeout_s=20)
    set_gateway(gateway)
    yield gateway
    set_gateway(None)


@pytest.fixture
def sms_dir(settings: Any, tmp_path: Path) -> Path:
    settings.MOBILE = mobile_settings(tmp_path, SMS_BACKEND="mobile_api.sms.backends.filebased.SmsBackend")
    return tmp_path / "sms"


def make_mobile_election(**fields: Any) -> MobileElection:
    ensure_seed_data()
    official = User.objects.create_user("mobile-official", password="a long enough pass phrase")
    official.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
    suwon = Region.objects.get(code="suwon")
    now: datetime = timezone.now()
    return build_mobile_election(official, suwon, make_station("suwon-m1", suwon), now, voters=2, **fields)


@pytest.fixture
def election(asgi_server: str, gateway: LedgerGateway, sms_dir: Path) -> MobileElection:
    return make_mobile_election()


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="en-US", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_a_voter_votes_by_phone_in_the_browser(
    asgi_server: str, election: MobileElection, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
    artifacts: Path,
) -> None:
    page = phone_page
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    voter = election.voters[0]

    response = page.goto(asgi_server + "/m/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(f"button[data-election='{election.election.ledger_id}']").click()
    expect(page.locator("#screen-identity")).to_be_visible()
    page.fill("#phone", voter.phone)
    page.fill("#birth-date", voter.birth_date)
    read_code = OtpFileReader(sms_dir, voter.phone, timeout_s=20)
    page.locator("#identity-form button[type=submit]").click()
    expect(page.locator("#screen-code")).to_be_visible()
    page.fill("#code", read_code())
    page.screenshot(path=str(artifacts / "mobile-code.png"))
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#screen-ballot")).to_be_visible(timeout=60_000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    page.locator("input[name=candidate][value=c2]").check()
    page.screenshot(path=str(artifacts / "mobile-ballot.png"))
    page.locator("#ballot-form button[type=submit]").click()
    expect(page.locator("#confirm-list")).to_contain_text("Lee Seoyeon")
    page.locator("#cast").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)
    tracking_code = page.locator("#tracking-code").inner_text().strip()
    page.locator("#check-status").click()
    expect(page.locator("#status-result")).to_have_attribute("data-status", "final")
    page.screenshot(path=str(artifacts / "mobile-done.png"))

    assert gateway.tx_status(tracking_code).status == "committed"
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 0, "c2": 1} and tally["stations"]["mobile"]["minted"] == 1
    assert not problems, problems
    assert page.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0


def test_a_wrong_code_shows_the_servers_message_and_changes_nothing(
    asgi_server: str, election: MobileElection, sms_dir: Path, phone_page: Any,
) -> None:
    page = phone_page
    page.goto(asgi_server + "/m/")
    page.locator(f"button[data-election='{election.election.ledger_id}']").click()
    page.fill("#phone", election.voters[1].phone)
    page.fill("#birth-date", election.voters[1].birth_date)
    read_code = OtpFileReader(sms_dir, election.voters[1].phone, timeout_s=20)
    page.locator("#identity-form button[type=submit]").click()
    expect(page.locator("#screen-code")).to_be_visible()
    wrong = "0000000" if read_code() != "0000000" else "1111111"
    page.fill("#code", wrong)
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#error")).to_have_attribute("data-code", "otp_invalid")
    expect(page.locator("#error")).to_contain_text("Attempts left: 4")
    expect(page.locator("#screen-code")).to_be_visible()


def test_an_approval_ballot_allows_up_to_k_marks_in_the_browser(
    asgi_server: str, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
) -> None:
    election = make_mobile_election(kind="approval", max_choices=2, candidates=(
        CandidateDraft("Kim"), CandidateDraft("Lee"), CandidateDraft("Park")))
    page, voter = phone_page, election.voters[0]
    page.goto(asgi_server + "/m/")
    page.locator(f"button[data-election='{election.election.ledger_id}']").click()
    page.fill("#phone", voter.phone)
    page.fill("#birth-date", voter.birth_date)
    read_code = OtpFileReader(sms_dir, voter.phone, timeout_s=20)
    page.locator("#identity-form button[type=submit]").click()
    page.fill("#code", read_code())
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#screen-ballot")).to_be_visible(timeout=60_000)
    page.locator("input[value=c3]").check()
    page.locator("input[value=c1]").check()
    expect(page.locator("input[value=c2]")).to_be_disabled()  # k = 2 marks reached
    page.locator("#ballot-form button[type=submit]").click()
    page.locator("#cast").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 1, "c2": 0, "c3": 1} and tally["unused"] == 0
