"""An observer in a real browser: the dashboard compares the nodes and a vote shows up live, without reloading.

The ledger is a real one-node network; a stand-in node relays it unchanged (a second
municipality that agrees) and a third URL answers nothing, so the node table shows an
agreeing pair and an unreachable node. The screenshot goes to artifacts/e2e/observer.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from ledger.config import get_ledger_settings
from ledger.core.tx import make_tx
from tests.audit.conftest import grant, put_on_ledger
from tests.audit.fake_node import fake_node
from tests.voting.factories import ensure_seed_data, make_election, make_station
from tests.voting.ledger_node import LedgerNode, free_port
from voting.access import OFFICIALS_GROUP
from voting.ledger_gateway import LedgerGateway
from voting.models import Candidate, ElectionRole, Region

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]
PASSWORD = "a long enough pass phrase"


@pytest.fixture
def nodes(ledger_node: LedgerNode, settings: Any) -> Iterator[tuple[str, str]]:
    """Three configured nodes: the real one, a faithful relay of it, and one that does not answer."""
    with fake_node(ledger_node.url, lambda path, answer: answer) as twin:
        dead = f"http://127.0.0.1:{free_port()}"
        settings.LEDGER = {**settings.LEDGER, "NODE_URLS": [ledger_node.url, twin, dead]}
        settings.AUDIT = {"REFRESH_SECONDS": 0.5}
        get_ledger_settings.cache_clear()
        yield twin, dead
    get_ledger_settings.cache_clear()


def test_observer_sees_a_vote_arrive_live(
    browser: Any, asgi_server: str, gateway: LedgerGateway, nodes: tuple[str, str], artifacts: Path,
) -> None:
    ensure_seed_data()
    official = User.objects.create_user("official", password=PASSWORD)
    official.groups.add(*official.groups.model.objects.filter(name=OFFICIALS_GROUP))
    observer = User.objects.create_user("observer", password=PASSWORD)
    station = make_station("suwon-1", Region.objects.get(code="suwon"), "수원 제1투표소")
    election = make_election(official, station.region, timezone.now(), title="Suwon mayor 2026")
    grant(observer, election, ElectionRole.Role.OBSERVER, official)
    keys = put_on_ledger(official, election, station, timezone.now(), voters=4)

    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{asgi_server}/audit/elections/{election.pk}/")
    page.fill("#id_username", "observer")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(rf"/audit/elections/{election.pk}/$"))
    page.wait_for_selector("#observer[data-connected='1']")

    spent = page.locator("[data-section=stations] [data-station='suwon-1'] [data-key=spent]")
    expect(spent).to_have_text("0")
    twin, dead = nodes
    expect(page.locator(f"[data-section=nodes] tr[data-node='{dead}']")).to_contain_text("unreachable")
    expect(page.locator("[data-section=anomalies] [data-code=node_unreachable]")).to_be_visible()
    updates_before = int(page.locator("#observer").get_attribute("data-updates") or 0)

    candidate = Candidate.objects.get(election=election, position=1)
    vote = make_tx(keys[0], chain=gateway.chain_id, contract="vote", type="transfer",
                   payload={"election": election.ledger_id, "to": candidate.ledger_address})
    assert gateway.transport.commit([vote], 20)[0].committed

    expect(spent).to_have_text("1")  # pushed over the websocket: the page was not reloaded
    assert int(page.locator("#observer").get_attribute("data-updates") or 0) > updates_before
    expect(page.locator("[data-section=anomalies] [data-code=votes_exceed_checkins]")).to_be_visible()
    expect(page.locator("[data-section=stations] [data-station='suwon-1']")).to_have_class(re.compile("flagged"))
    # The site's font stack names no font this machine has for Hangul (validator names are Korean);
    # NanumGothic is only added for the picture, the page itself is unchanged.
    # Set through the CSSOM: the page's strict CSP (style-src 'self') refuses an injected <style> tag.
    page.evaluate("document.body.style.fontFamily = \"system-ui, 'NanumGothic', sans-serif\"")
    page.wait_for_timeout(3000)  # let the change highlight fade, for a calm picture (nothing is asserted on time)
    page.screenshot(path=str(artifacts / "observer.png"), full_page=True)
    context.close()
