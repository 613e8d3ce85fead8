"""A community member ranks options in Chromium, the browser signs the cast, and the receipt is on the ledger.

The web app runs under uvicorn in this process with its strict CSP (a violation would be a
console error, which fails the test), the ledger is a real one-node network, and the ranking is
built with the keyboard only (focus a button, press Enter), as a screen-reader user would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import expect

from communities import ledger as poll_ledger
from communities.models import Poll, PollRegistration
from tests.communities.poll_support import World, build_world, keys_of, mobile_settings, open_poll
from voting.ledger_gateway import LedgerGateway

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]


@pytest.fixture
def world(asgi_server: str, gateway: LedgerGateway, settings: Any, tmp_path: Path) -> World:
    settings.MOBILE = mobile_settings(tmp_path)
    return build_world()


@pytest.fixture
def member_page(browser: Any, asgi_server: str, world: World) -> Iterator[Any]:
    """A browser signed in as member "kim" of the 장안 node (the session the member sign-in would create)."""
    kim = world.add_member("kim", world.jangan)
    session = SessionStore()
    session["community_member_id"] = kim.pk
    session.create()
    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en"})
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": asgi_server}])
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_a_member_ranks_with_the_keyboard_votes_and_sees_the_receipt(
    asgi_server: str, world: World, gateway: LedgerGateway, member_page: Any, artifacts: Path
) -> None:
    page = member_page
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    poll = open_poll(world, "ranked", timezone.now(), options=("Maple", "Pine", "Oak"))
    keys = keys_of(poll)

    response = page.goto(f"{asgi_server}/communities/polls/{poll.ledger_id}/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#privacy-note")).to_contain_text("the server knows which address")
    expect(page.locator("#resume-button")).to_be_hidden()  # nothing unfinished on this browser
    for name in ("Pine", "Maple"):  # add Pine, then Maple: ranking Pine > Maple
        page.get_by_role("button", name=f"Add to my ranking: {name}").focus()
        page.keyboard.press("Enter")
    expect(page.locator("#ranking li")).to_have_count(2)
    page.get_by_role("button", name="Move up: Maple").focus()
    page.keyboard.press("Enter")  # Maple > Pine; Oak stays unranked (a partial ranking)
    expect(page.locator("#ranking li .name")).to_have_text(["Maple", "Pine"])
    page.screenshot(path=str(artifacts / "community-poll-ballot.png"))
    page.get_by_role("button", name="Cast my vote").click()

    expect(page.locator("#receipt")).to_be_visible(timeout=60_000)
    tracking_code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", tracking_code)
    assert gateway.tx_status(tracking_code).status == "committed"
    page.screenshot(path=str(artifacts / "community-poll-receipt.png"))

    registration = PollRegistration.objects.get(poll=poll)
    assert registration.unit == f"c{world.jangan.pk}"
    tally = poll_ledger.get_tally(gateway, poll.ledger_id)
    assert tally["counts"]["cast"] == 1
    assert tally["result"]["rounds"][0]["counts"] == {keys["Maple"]: 1, keys["Pine"]: 0, keys["Oak"]: 0}

    page.locator("#receipt-link").click()
    expect(page.locator("#receipt-code")).to_have_text(tracking_code)
    expect(page.locator("#receipt-status")).to_contain_text("Recorded in a final block")

    page.goto(f"{asgi_server}/communities/polls/{poll.ledger_id}/")  # the browser keeps only the receipt
    expect(page.locator("#tracking-code")).to_have_text(tracking_code)
    expect(page.locator("#ballot-form")).to_be_hidden()
    assert Poll.objects.get(pk=poll.pk).status == Poll.Status.OPEN
    assert not problems, problems


def test_an_anonymous_poll_is_voted_with_a_blind_credential_then_enrol_and_cast_without_the_session(
    asgi_server: str, world: World, gateway: LedgerGateway, member_page: Any
) -> None:
    page = member_page
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url.rsplit("/", 1)[-1]) if request.method == "POST" else None)
    poll = open_poll(world, "score", timezone.now(), options=("Library", "Park"), score_max=5, anonymous=True)
    keys = keys_of(poll)

    page.goto(f"{asgi_server}/communities/polls/{poll.ledger_id}/")
    expect(page.locator("#privacy-note")).to_contain_text("cannot tell which ballot is yours")
    page.locator(f"input[data-option={keys['Library']}]").fill("4")
    page.locator(f"input[data-option={keys['Park']}]").fill("9")  # out of range: refused in the page
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("#poll-error")).to_have_attribute("data-code", "ballot_incomplete")
    assert sent == []
    page.locator(f"input[data-option={keys['Park']}]").fill("2")
    page.get_by_role("button", name="Cast my vote").click()

    expect(page.locator("#receipt")).to_be_visible(timeout=60_000)
    tracking_code = page.locator("#tracking-code").inner_text().strip()
    assert gateway.tx_status(tracking_code).status == "committed"
    # The credential needs the member's session and enrol/anonymous-cast refuse any request carrying it
    # (session_not_allowed), so this order of successes shows the cookie went with the first request only.
    assert sent == ["credential", "enrol", "anonymous-cast"]
    tally = poll_ledger.get_tally(gateway, poll.ledger_id)
    assert tally["result"]["totals"] == {keys["Library"]: 4, keys["Park"]: 2}
    (registration,) = PollRegistration.objects.filter(poll=poll)
    assert registration.address == "" and len(registration.blinded_sha256) == 64
    assert not problems, problems
