"""An election official's day in a real browser: create, roll (bad then good), cards, open, check-in, close, results.

Screenshots of the key pages go to artifacts/e2e/ (ignored by git). The ledger is a real
one-node network; one vote is cast from a printed card (decoded from the downloaded PDF)
so the results page has something to count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect
from django.utils import timezone

from ledger.core.tx import make_tx
from tests.voting.factories import ensure_seed_data, make_station, roll_rows, to_csv
from tests.voting.pdf_text import extract_qr_payloads
from voting.access import OFFICIALS_GROUP
from voting.cards import parse_card_payload
from voting.ledger_gateway import LedgerGateway
from voting.models import Candidate, Election, Region

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]
PASSWORD = "a long enough pass phrase"
LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def page(browser: Any, asgi_server: str) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1180, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("dialog", lambda dialog: dialog.accept())  # the "download works only once" confirmation
    yield page
    context.close()


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_official_runs_an_election_in_the_browser(
    page: Any, asgi_server: str, gateway: LedgerGateway, artifacts: Path, tmp_path: Path,
) -> None:
    ensure_seed_data()
    official = User.objects.create_user("official", password=PASSWORD)
    official.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
    make_station("suwon-1", Region.objects.get(code="suwon"), "수원 제1투표소")
    base = asgi_server

    # Sign in (a wrong password first).
    page.goto(base + "/elections/")
    page.fill("#id_username", "official")
    page.fill("#id_password", "wrong")
    page.click("main button[type=submit]")
    expect(page.locator(".form-errors")).to_be_visible()
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/elections/$"))

    # Create an election: a bad submission keeps the errors next to the fields.
    page.click("text=New election")
    now = timezone.localtime()
    page.fill("#id_opens_at", (now - timedelta(minutes=2)).strftime(LOCAL))
    page.fill("#id_closes_at", (now - timedelta(hours=1)).strftime(LOCAL))
    page.fill("#id_candidates-0-name", "Kim Minjun")
    page.click("button:has-text('Save')")
    expect(page.locator("#id_title_error")).to_be_visible()
    page.fill("#id_title", "Suwon mayor 2026")
    page.select_option("#id_region", label="— Suwon")
    page.click("button:has-text('Save')")
    expect(page.locator("#id_closes_at_error")).to_contain_text("Closing must be after opening.")
    expect(page.locator("#candidates")).to_contain_text("Enter at least two candidates.")
    shot(page, artifacts, "01-election-form-errors")
    page.fill("#id_closes_at", (now + timedelta(hours=3)).strftime(LOCAL))
    page.fill("#id_candidates-1-name", "Lee Seoyeon")
    page.fill("#id_candidates-1-party", "Party B")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Setup checklist")
    election = Election.objects.get()
    page.click("text=Schedule on the ledger")
    page.click("button:has-text('Yes, schedule')")
    page.wait_for_selector(".status-scheduled")

    # The voter roll: a bad file gets the report of every problem, then the good file.
    page.click("nav.tabs >> text=Voter roll")
    bad = to_csv([("R0000001", "Kim", "1990-02-30", "suwon-1", "", ""), ("R0000002", "", "1980-01-01", "busan-1", "", "")])
    page.set_input_files("#id_file", files=[{"name": "roll-bad.csv", "mimeType": "text/csv", "buffer": bad}])
    page.click("button:has-text('Check and import')")
    page.wait_for_selector("text=Nothing was imported: 3 problems found")
    expect(page.locator("table.problems tbody tr")).to_have_count(3)
    shot(page, artifacts, "02-roll-report-bad")
    page.click("text=Back to the voter roll")
    good = to_csv(roll_rows(12, ["suwon-1"]))
    page.set_input_files("#id_file", files=[{"name": "roll.csv", "mimeType": "text/csv", "buffer": good}])
    page.click("button:has-text('Check and import')")
    page.wait_for_selector("text=Imported 12 voters")

    # A kiosk, then the token cards (one download, single use).
    page.click("nav.tabs >> text=Kiosks")
    page.fill("#id_label", "booth-1")
    page.click("button:has-text('Register kiosk')")
    expect(page.locator("#kiosk-credential")).to_contain_text("kiosk_")
    page.click("nav.tabs >> text=Token cards")
    with page.expect_download() as download_info:
        page.click("button:has-text('Generate and download 12 cards')")
    pdf_path = tmp_path / "cards.pdf"
    download_info.value.save_as(str(pdf_path))
    # The page reloads itself once the server answered (static/voting/forms.js). Wait for the
    # batch's status badge, which only the reloaded page has: "text=Downloaded" also matched the
    # page's help text ("... downloaded as a print-ready PDF", case-insensitive), so the test
    # could navigate while the reload was starting and get ERR_ABORTED.
    page.wait_for_selector(".status-imported")
    page.wait_for_load_state("load")
    shot(page, artifacts, "03-token-cards")
    payloads = extract_qr_payloads(pdf_path.read_bytes())
    assert len(payloads) == 12

    # Open voting: the checklist is complete.
    # Go by URL, not by clicking the tab: a click right after a download can land while the
    # page is still settling and be lost (seen once in CI).
    page.goto(f"{asgi_server}/elections/{election.pk}/")
    page.wait_for_selector("text=Open voting")
    shot(page, artifacts, "04-dashboard-checklist")
    page.click("text=Open voting")
    page.click("button:has-text('Yes, open voting')")
    page.wait_for_selector(".status-open")

    # Poll worker screen: look up, confirm, check in; a second check-in is refused.
    page.click("nav.tabs >> text=Check-in")
    page.fill("#id_roll_number", "R0000003")
    page.click("button:has-text('Look up')")
    page.click("a:has-text('Select')")
    page.check("#id_id_confirmed")
    page.click("button:has-text('Check in')")
    page.wait_for_selector("text=is checked in")
    shot(page, artifacts, "05-check-in-done")
    page.fill("#id_roll_number", "R0000003")
    page.click("button:has-text('Look up')")
    page.click("a:has-text('Select')")
    expect(page.locator("text=This voter has already checked in")).to_be_visible()
    shot(page, artifacts, "06-check-in-refused")

    # The voter votes at the kiosk with a drawn card (signed with the card's key, sent to the node).
    _payload, key = parse_card_payload(payloads[5])
    candidate = Candidate.objects.get(election=election, position=2)
    vote = make_tx(key, chain=gateway.chain_id, contract="vote", type="transfer",
                   payload={"election": election.ledger_id, "to": candidate.ledger_address})
    assert gateway.transport.commit([vote], 20)[0].committed

    # Live turnout over the websocket.
    page.click("nav.tabs >> text=Turnout")
    page.wait_for_selector("#turnout[data-connected='1']")
    page.wait_for_function("document.querySelector('[data-total=checked_in]').textContent.trim() === '1'")
    page.wait_for_function("document.querySelector('[data-total=votes]').textContent.trim() === '1'")
    shot(page, artifacts, "07-turnout-live")

    # Close (before the scheduled time: needs the extra confirmation), count, publish.
    page.click("nav.tabs >> text=Overview")
    page.click("text=Close voting")
    page.click("button:has-text('Yes, close voting')")
    page.wait_for_selector("text=must be confirmed explicitly")
    page.check("#id_confirm_early")
    page.click("button:has-text('Yes, close voting')")
    page.wait_for_selector(".status-closed")
    page.click("text=Count the votes")
    page.click("button:has-text('Yes, count')")
    page.click("nav.tabs >> text=Results")
    page.wait_for_selector("svg.chart")
    expect(page.locator("main")).to_contain_text("1 vote counted")
    shot(page, artifacts, "08-results")
    page.click("text=Publish the results")
    page.click("button:has-text('Yes, publish')")
    page.wait_for_selector(".status-published")

    # Korean is the default language: the public results page in Korean, without signing in.
    public = page.context.browser.new_context(locale="ko-KR")
    anonymous = public.new_page()
    anonymous.goto(f"{base}/elections/{election.pk}/results/")
    expect(anonymous.locator("html")).to_have_attribute("lang", "ko")
    expect(anonymous.locator("main")).to_contain_text("공식 개표 결과")
    anonymous.screenshot(path=str(artifacts / "09-results-public-ko.png"), full_page=True)
    public.close()
