"""A member watches a poll's statistics dashboard in a real browser; a cast committed by a REAL node shows live.

Then the member drills into a city: the socket's view follows (only that city and its districts
are pushed), and a second cast below the city still shows live.

The poll is on a one-node ledger; the page is served by the ASGI app under uvicorn (HTTP and
websocket); the member signs in the way the communities pages do (a session bound to the
member). The cast goes straight to the node, as a member's browser would send it, so the only
way the page can learn of it is the follower reading the committed block and pushing.
The screenshot goes to artifacts/e2e/community-dashboard.png.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from communities.models import Member, Membership
from communities.services.members import SESSION_KEY
from ledger.config import get_ledger_settings
from tests.communities.stats_world import make_stats_world
from tests.voting.ledger_node import LedgerNode
from voting.ledger_gateway import LedgerGateway

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]


def member_session(member: Member) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = member.pk
    store.save()
    return str(store.session_key)


def test_the_dashboard_number_changes_live_after_a_committed_cast(
    browser: Any, asgi_server: str, gateway: LedgerGateway, ledger_node: LedgerNode, settings: Any, artifacts: Path,
) -> None:
    settings.LEDGER = {**settings.LEDGER, "NODE_URLS": [ledger_node.url]}
    settings.COMMUNITY_STATS = {"REFRESH_SECONDS": 0.3}
    get_ledger_settings.cache_clear()
    try:
        world = make_stats_world(gateway, live_results=True, per_unit=4)  # two casts per locale
        member = Member.objects.create(display_name="watcher")
        Membership.objects.create(member=member, community=world.nodes["suwon"], joined_via="invite")
        for locale, turnout_label in (("en-US", "Turnout"), ("ko-KR", "투표율")):
            watch(browser, asgi_server, member, world, gateway, locale, turnout_label, artifacts)
    finally:
        get_ledger_settings.cache_clear()


def watch(browser: Any, base: str, member: Member, world: Any, gateway: LedgerGateway, locale: str,
          turnout_label: str, artifacts: Path) -> None:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": member_session(member), "url": base}])
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))  # an exception in stats.js
    page.goto(f"{base}/communities/polls/{world.poll.ledger_id}/stats/")
    page.wait_for_selector("#poll-stats[data-connected='1']")
    expect(page.locator("main")).to_contain_text(turnout_label)
    ballots = page.locator("#fig-ballots")
    before = int(ballots.inner_text())
    height_before = int(page.locator("#poll-stats").get_attribute("data-height") or 0)
    assert height_before > 0

    jangan = world.nodes["jangan"].unit_id
    key = world.voters[jangan][0 if locale == "en-US" else 1]
    assert gateway.transport.commit([world.cast(gateway, key, "library")], 20)[0].committed

    expect(ballots).to_have_text(str(before + 1))  # pushed over the websocket: no reload
    expect(page.locator("#results-chart text.bar-value[data-option='library']")).to_have_text(str(before + 1))
    expect(page.locator("#unit-rows tr[data-unit]")).to_have_count(2)  # the root's children: suwon, seongnam
    assert int(page.locator("#poll-stats").get_attribute("data-height") or 0) > height_before
    page.locator(f"#unit-rows tr[data-unit='{world.nodes['suwon'].unit_id}'] button").click()
    expect(page.locator("#unit-name")).to_have_text(world.nodes["suwon"].name)
    expect(ballots).to_have_text(str(before + 1))  # the cast was in jangan, below suwon: rolled up
    expect(page.locator("#turnout-chart polyline")).to_have_count(1)  # suwon's line, from the view frame
    expect(page.locator("#poll-stats")).to_have_attribute("data-view", world.nodes["suwon"].unit_id)

    # Drilled into suwon, the socket's view is suwon: a cast in jangan (suwon's child) must still show live.
    second = world.voters[jangan][2 if locale == "en-US" else 3]
    assert gateway.transport.commit([world.cast(gateway, second, "library")], 20)[0].committed
    expect(ballots).to_have_text(str(before + 2))
    jangan_row = page.locator(f"#unit-rows tr[data-unit='{jangan}'] td").nth(2)  # the ballots column
    expect(jangan_row).to_have_text(str(before + 2))
    expect(page.locator("#results-chart text.bar-value[data-option='library']")).to_have_text(str(before + 2))
    if locale == "en-US":
        page.screenshot(path=str(artifacts / "community-dashboard.png"), full_page=True)
    assert not errors, errors
    context.close()
