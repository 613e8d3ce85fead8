"""A voter votes on a phone-sized Chromium, ballot first: election -> ballot -> confirm -> phone + birth
date -> SMS code -> credential, mint and vote in one go -> tracking code.

The web app runs under uvicorn in this process, the ledger is a real one-node network, the
code is read from the file SMS backend (what a developer sees), and the page runs with its
strict Content-Security-Policy (any violation would show as a console error, which fails the
test). The browser makes the token key, blinds, unblinds, mints and votes itself. Interruptions
are real: a request held or aborted by the browser (``page.route``) and a page reload; the
IndexedDB record the page keeps is read back from the page itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from playwright.sync_api import expect

from clients.evote_mobile import OtpFileReader
from ledger.core.tx import Transaction
from tests.mobile.conftest import mobile_settings
from tests.mobile.harness import MobileElection, build_mobile_election
from tests.voting.factories import ensure_seed_data, make_station
from voting.access import OFFICIALS_GROUP
from voting.ledger_gateway import LedgerGateway
from voting.models import Region, VoterRollEntry
from voting.services.elections import CandidateDraft

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


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


# Reads the page's own IndexedDB (after the page opened it) as plain JSON; CryptoKeys become a description.
DUMP_STORE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("evote-mobile");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const all = (name) => new Promise((resolve, reject) => {
    const request = db.transaction(name).objectStore(name).getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const dump = { pending: await all("pending"), receipts: await all("receipts") };
  db.close();
  const describe = (key, value) => value instanceof CryptoKey
    ? { type: value.type, extractable: value.extractable, algorithm: value.algorithm.name } : value;
  return JSON.parse(JSON.stringify(dump, describe));
}"""


def choose_and_confirm(page: Any, election: MobileElection, candidate_ids: list[str]) -> None:
    """Election -> ballot -> confirm -> identity screen: nothing is sent to the server on the way."""
    page.locator(f"button[data-election='{election.election.ledger_id}']").click()
    expect(page.locator("#screen-ballot")).to_be_visible()
    for candidate in candidate_ids:
        page.locator(f"input[name=candidate][value={candidate}]").check()
    page.locator("#ballot-form button[type=submit]").click()
    expect(page.locator("#screen-confirm")).to_be_visible()
    page.locator("#confirm-continue").click()
    expect(page.locator("#screen-identity")).to_be_visible()


def request_code(page: Any, sms_dir: Path, phone: str, birth_date: str) -> str:
    """Fill the identity form, send it and return the code texted to the phone."""
    page.fill("#phone", phone)
    page.fill("#birth-date", birth_date)
    read_code = OtpFileReader(sms_dir, phone, timeout_s=20)
    page.locator("#identity-form button[type=submit]").click()
    expect(page.locator("#screen-code")).to_be_visible()
    return read_code()


def api_posts(page: Any) -> list[str]:
    """Record the path of every POST to the mobile API, in order."""
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url.split("/api/v1/mobile/")[1])
            if request.method == "POST" and "/api/v1/mobile/" in request.url else None)
    return posts


def wait_until(condition: Callable[[], bool], page: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        page.wait_for_timeout(100)


def tx_id_of(raw_body: str) -> str:
    return Transaction.from_dict(json.loads(raw_body)["tx"]).id_hex


def test_a_voter_chooses_first_and_the_phone_then_votes_in_one_go(
    asgi_server: str, election: MobileElection, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
    artifacts: Path,
) -> None:
    page = phone_page
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    posts = api_posts(page)
    voter = election.voters[0]

    response = page.goto(asgi_server + "/m/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(f"button[data-election='{election.election.ledger_id}']").click()
    expect(page.locator("#screen-ballot")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    page.locator("input[name=candidate][value=c2]").check()
    page.screenshot(path=str(artifacts / "mobile-ballot.png"))
    page.locator("#ballot-form button[type=submit]").click()
    expect(page.locator("#confirm-list")).to_contain_text("Lee Seoyeon")
    expect(page.locator("#screen-confirm")).to_contain_text("What happens next")
    page.screenshot(path=str(artifacts / "mobile-confirm.png"))
    page.locator("#confirm-continue").click()
    assert posts == []  # choosing and confirming sends nothing
    code = request_code(page, sms_dir, voter.phone, voter.birth_date)
    page.fill("#code", code)
    page.screenshot(path=str(artifacts / "mobile-code.png"))
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)
    tracking_code = page.locator("#tracking-code").inner_text().strip()
    mint_code = (page.locator("#mint-tracking-code").text_content() or "").strip()
    page.locator("#check-status").click()
    expect(page.locator("#status-result")).to_have_attribute("data-status", "final")
    page.screenshot(path=str(artifacts / "mobile-done.png"))

    assert posts == ["otp/request", "otp/verify", "credential", "mint", "vote"]
    assert gateway.tx_status(tracking_code).status == "committed"
    assert gateway.tx_status(mint_code).status == "committed"
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 0, "c2": 1} and tally["stations"]["mobile"]["minted"] == 1
    assert not problems, problems
    assert page.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    stored = page.evaluate(DUMP_STORE)  # only the receipt is left on the phone
    assert stored["pending"] == []
    (receipt,) = stored["receipts"]
    assert receipt["tracking"] == tracking_code and set(receipt) == {"election", "title", "tracking", "height", "savedAt"}


def test_a_wrong_code_shows_the_servers_message_and_changes_nothing(
    asgi_server: str, election: MobileElection, sms_dir: Path, phone_page: Any,
) -> None:
    page, voter = phone_page, election.voters[1]
    page.goto(asgi_server + "/m/")
    choose_and_confirm(page, election, ["c1"])
    code = request_code(page, sms_dir, voter.phone, voter.birth_date)
    page.fill("#code", "0000000" if code != "0000000" else "1111111")
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#error")).to_have_attribute("data-code", "otp_invalid")
    expect(page.locator("#error")).to_contain_text("Attempts left: 4")
    expect(page.locator("#screen-code")).to_be_visible()
    assert page.evaluate(DUMP_STORE) == {"pending": [], "receipts": []}  # nothing kept before the code is accepted


def test_a_reload_after_the_credential_offers_to_finish_and_the_vote_lands_once(
    asgi_server: str, election: MobileElection, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
    artifacts: Path,
) -> None:
    """The mint reaches the ledger but its answer never reaches the page, which is then reloaded."""
    page, voter = phone_page, election.voters[0]
    held: dict[str, str] = {}

    def hold_mint(route: Any) -> None:
        answer = route.fetch()  # the server commits the mint ...
        held.update(request=route.request.post_data or "", answer=answer.text())
        # ... and the page never hears back: the route is left unanswered until the reload.

    page.goto(asgi_server + "/m/")
    choose_and_confirm(page, election, ["c2"])
    page.route("**/api/v1/mobile/mint", hold_mint)
    code = request_code(page, sms_dir, voter.phone, voter.birth_date)
    page.fill("#code", code)
    with page.expect_response("**/api/v1/mobile/otp/verify") as verified:
        page.locator("#code-form button[type=submit]").click()
    session = verified.value.json()["session"]
    wait_until(lambda: "answer" in held, page)
    mint_id = tx_id_of(held["request"])
    assert json.loads(held["answer"])["tracking_code"] == mint_id
    assert gateway.tx_status(mint_id).status == "committed"

    (record,) = page.evaluate(DUMP_STORE)["pending"]
    assert record["stage"] == "credential" and record["marks"] == ["c2"] and "blinding" not in record
    assert record["key"]["cryptoKey"] == {"type": "private", "extractable": False, "algorithm": "ECDSA"}
    assert tx_id_of(json.dumps({"tx": record["mintTx"]})) == mint_id
    assert session not in json.dumps(record) and code not in json.dumps(record)  # never stored

    page.reload()  # cancels the held request (unrouting first would let Playwright send it on)
    page.unroute("**/api/v1/mobile/mint")
    expect(page.locator("#screen-resume")).to_be_visible()
    expect(page.locator("#resume-list")).to_contain_text("Lee Seoyeon")
    expect(page.locator("#resume-go")).to_have_attribute("data-action", "send")
    page.screenshot(path=str(artifacts / "mobile-resume.png"))
    page.locator("#resume-go").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)

    assert (page.locator("#mint-tracking-code").text_content() or "").strip() == mint_id  # the same mint, resent
    tracking_code = page.locator("#tracking-code").inner_text().strip()
    assert gateway.tx_status(tracking_code).status == "committed"
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 0, "c2": 1}
    assert tally["stations"]["mobile"]["minted"] == 1 and tally["stations"]["mobile"]["spent"] == 1
    stored = page.evaluate(DUMP_STORE)
    assert stored["pending"] == [] and [r["tracking"] for r in stored["receipts"]] == [tracking_code]


def test_a_reload_while_the_credential_was_in_flight_is_finished_after_a_new_code(
    asgi_server: str, election: MobileElection, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
) -> None:
    """The one step that needs the session: the server signed, the page was reloaded before it heard back.

    The session is gone (never stored), so the page asks for a new code and resends the blinded
    message it kept; the server recognises it for this voter and signs it again.
    """
    page, voter = phone_page, election.voters[1]
    held: dict[str, str] = {}

    def hold_credential(route: Any) -> None:
        answer = route.fetch()
        held.update(request=route.request.post_data or "", status=str(answer.status))

    page.goto(asgi_server + "/m/")
    choose_and_confirm(page, election, ["c1"])
    page.route("**/api/v1/mobile/credential", hold_credential)
    page.fill("#code", request_code(page, sms_dir, voter.phone, voter.birth_date))
    page.locator("#code-form button[type=submit]").click()
    wait_until(lambda: "status" in held, page)
    assert held["status"] == "200"
    assert VoterRollEntry.objects.get(pk=voter.entry_id).status == "credential_issued"
    (record,) = page.evaluate(DUMP_STORE)["pending"]
    assert record["stage"] == "blinded" and record["blinding"]["blindedMsg"] == json.loads(held["request"])["blinded_msg"]

    page.reload()  # cancels the held request (unrouting first would let Playwright send it on)
    page.unroute("**/api/v1/mobile/credential")
    expect(page.locator("#resume-go")).to_have_attribute("data-action", "verify")
    page.locator("#resume-go").click()
    page.fill("#code", request_code(page, sms_dir, voter.phone, voter.birth_date))
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 1, "c2": 0} and tally["stations"]["mobile"]["minted"] == 1
    assert page.evaluate(DUMP_STORE)["pending"] == []


def test_a_vote_whose_answer_is_lost_is_retried_automatically_and_counts_once(
    asgi_server: str, election: MobileElection, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
) -> None:
    page, voter = phone_page, election.voters[1]
    sent: list[str] = []

    def lose_first_answer(route: Any) -> None:
        sent.append(route.request.post_data or "")
        if len(sent) == 1:
            route.fetch()  # the vote reaches the ledger, then the connection drops
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/mobile/vote", lose_first_answer)
    page.goto(asgi_server + "/m/")
    choose_and_confirm(page, election, ["c1"])
    page.fill("#code", request_code(page, sms_dir, voter.phone, voter.birth_date))
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)

    tracking_code = page.locator("#tracking-code").inner_text().strip()
    assert len(sent) == 2 and sent[0] == sent[1]  # the same signed bytes, resent once
    assert tx_id_of(sent[0]) == tracking_code
    assert page.locator("#screen-progress").get_attribute("data-retries") == "1"
    assert gateway.tx_status(tracking_code).status == "committed"
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 1, "c2": 0}
    assert tally["stations"]["mobile"]["minted"] == 1 and tally["stations"]["mobile"]["spent"] == 1


def test_an_approval_ballot_allows_up_to_k_marks_in_the_browser(
    asgi_server: str, gateway: LedgerGateway, sms_dir: Path, phone_page: Any,
) -> None:
    election = make_mobile_election(kind="approval", max_choices=2, candidates=(
        CandidateDraft("Kim"), CandidateDraft("Lee"), CandidateDraft("Park")))
    page, voter = phone_page, election.voters[0]
    page.goto(asgi_server + "/m/")
    page.locator(f"button[data-election='{election.election.ledger_id}']").click()
    page.locator("input[value=c3]").check()
    page.locator("input[value=c1]").check()
    expect(page.locator("input[value=c2]")).to_be_disabled()  # k = 2 marks reached
    page.locator("#ballot-form button[type=submit]").click()
    page.locator("#confirm-continue").click()
    page.fill("#code", request_code(page, sms_dir, voter.phone, voter.birth_date))
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("#screen-done")).to_be_visible(timeout=60_000)
    tally = gateway.get_tally(election.election.ledger_id)
    assert tally["candidates"] == {"c1": 1, "c2": 0, "c3": 1} and tally["unused"] == 0
