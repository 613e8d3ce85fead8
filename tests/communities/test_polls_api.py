"""The poll API and pages over HTTP (Django test client, in-process ledger): sessions, CSRF, typed errors, ko/en."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from communities.models import Member, Poll, PollRegistration
from communities.services import polls as poll_services
from ledger.core.crypto import PrivateKey

from .poll_support import (
    World,
    build_world,
    cast_tx,
    draft,
    enrol_tx,
    finish_credential,
    in_process_ledger,
    keys_of,
    open_poll,
    prepare_anonymous,
)

SESSION_KEY = "community_member_id"


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def world(db: Any, settings: Any, tmp_path: Path) -> Iterator[World]:
    with in_process_ledger(settings, tmp_path):
        yield build_world()


def signed_in(member: Member) -> Client:
    """A browser with the member's session and a CSRF cookie, enforcing CSRF like production."""
    client = Client(enforce_csrf_checks=True)
    session = client.session
    session[SESSION_KEY] = member.pk
    session.save()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = session.session_key
    client.get(reverse("home"))
    return client


def post_json(client: Client, url: str, body: Any, csrf: bool = True) -> Any:
    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if csrf and "csrftoken" in client.cookies else {}
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def api(name: str, poll: Poll) -> str:
    return reverse(f"communities:{name}", kwargs={"poll": poll.ledger_id})


def test_cast_through_the_api_returns_the_tracking_code_and_a_repeat_the_same(world: World, now: datetime) -> None:
    kim = world.add_member("kim", world.jangan)
    poll = open_poll(world, "ranked", now)
    client = signed_in(kim)
    page = client.get(reverse("communities:poll_detail", kwargs={"poll": poll.ledger_id}))
    assert page.status_code == 200 and "csrftoken" in client.cookies
    tx = cast_tx(PrivateKey.generate(), poll, ["o2", "o1"])
    first = post_json(client, api("poll_api_cast", poll), {"tx": tx})
    assert first.status_code == 200, first.content
    again = post_json(client, api("poll_api_cast", poll), {"tx": tx})
    assert again.json()["tracking_code"] == first.json()["tracking_code"]
    receipt = client.get(reverse("communities:poll_receipt", kwargs={"poll": poll.ledger_id,
                                                                        "tracking_code": first.json()["tracking_code"]}))
    assert receipt.status_code == 200 and first.json()["tracking_code"] in receipt.content.decode()


def test_cast_needs_the_sign_in_and_the_csrf_token(world: World, now: datetime) -> None:
    kim = world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now)
    tx = cast_tx(PrivateKey.generate(), poll, "o1")
    anonymous = Client(enforce_csrf_checks=True)
    response = post_json(anonymous, api("poll_api_cast", poll), {"tx": tx})
    assert response.status_code == 401 and response.json()["code"] == "member_sign_in_required"
    client = signed_in(kim)
    assert post_json(client, api("poll_api_cast", poll), {"tx": tx}, csrf=False).status_code == 403
    assert not PollRegistration.objects.exclude(address="").exists()  # snapshot rows only, no address bound


@pytest.mark.parametrize(("body", "status", "code"), [
    ("not json", 400, None),
    ({"tx": "nope"}, 400, "invalid_input"),
    ({}, 400, "invalid_input"),
    ({"tx": {"v": 1}}, 400, "poll_tx_invalid"),
])
def test_bad_bodies_are_typed_errors_never_500(world: World, now: datetime, body: Any, status: int, code: str | None) -> None:
    kim = world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now)
    client = signed_in(kim)
    if isinstance(body, str):
        response = client.post(api("poll_api_cast", poll), data=body, content_type="application/json",
                               HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    else:
        response = post_json(client, api("poll_api_cast", poll), body)
    assert response.status_code == status
    assert set(response.json()) == {"code", "message", "detail"}
    if code:
        assert response.json()["code"] == code
    assert not PollRegistration.objects.exclude(address="").exists()  # snapshot rows only, no address bound


def test_unknown_poll_is_404_with_a_code(world: World) -> None:
    response = Client().get(reverse("communities:poll_api_detail", kwargs={"poll": "poll-nope"}))
    assert response.status_code == 404 and response.json()["code"] == "poll_not_found"


def test_anonymous_flow_refuses_the_session_on_enrol_and_cast(world: World, now: datetime) -> None:
    kim = world.add_member("kim", world.suwon)
    poll = open_poll(world, "yna", now, options=(), anonymous=True)
    detail = Client().get(api("poll_api_detail", poll)).json()
    assert detail["anonymous"] is True and detail["credential_key"]
    client = signed_in(kim)
    voter = prepare_anonymous(poll)
    answer = post_json(client, api("poll_api_credential", poll), {"blinded_msg": voter.blinded_msg.hex()})
    assert answer.status_code == 200, answer.content
    other = prepare_anonymous(poll)
    refused = post_json(client, api("poll_api_credential", poll), {"blinded_msg": other.blinded_msg.hex()})
    assert refused.status_code == 409 and refused.json()["code"] == "poll_credential_already_issued"
    credential = finish_credential(poll, voter, bytes.fromhex(answer.json()["blind_sig"]))
    enrol = {"tx": enrol_tx(poll, voter, credential)}
    with_session = post_json(client, api("poll_api_enrol", poll), enrol)
    assert with_session.status_code == 400 and with_session.json()["code"] == "session_not_allowed"
    bare = Client()
    assert post_json(bare, api("poll_api_enrol", poll), enrol).status_code == 200
    cast = {"tx": cast_tx(voter.key, poll, "no")}
    assert post_json(client, api("poll_api_anonymous_cast", poll), cast).json()["code"] == "session_not_allowed"
    receipt = post_json(bare, api("poll_api_anonymous_cast", poll), cast)
    assert receipt.status_code == 200 and len(receipt.json()["tracking_code"]) == 64
    assert post_json(bare, api("poll_api_anonymous_cast", poll), cast).json() == receipt.json()  # retry: same receipt


def test_open_poll_cast_endpoint_refuses_anonymous_polls_and_vice_versa(world: World, now: datetime) -> None:
    kim = world.add_member("kim", world.suwon)
    anonymous = open_poll(world, "single", now, anonymous=True)
    client = signed_in(kim)
    response = post_json(client, api("poll_api_cast", anonymous), {"tx": cast_tx(PrivateKey.generate(), anonymous, "o1")})
    assert response.status_code == 409 and response.json()["code"] == "poll_wrong_status"
    plain = open_poll(world, "single", now)
    response = post_json(Client(), api("poll_api_anonymous_cast", plain), {"tx": cast_tx(PrivateKey.generate(), plain, "o1")})
    assert response.status_code == 409


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ko", "en"])
def test_pages_render_in_both_languages_with_the_strict_csp(world: World, now: datetime, language: str) -> None:
    kim = world.add_member("kim", world.suwon)
    poll = open_poll(world, "ranked", now)
    client = signed_in(kim)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    detail = client.get(reverse("communities:poll_detail", kwargs={"poll": poll.ledger_id}))
    body = detail.content.decode()
    assert detail.status_code == 200 and 'id="ballot-form"' in body and "communities/poll.js" in body
    assert "script-src 'self'" in detail["Content-Security-Policy"]
    assert "<script>" not in body and "style=" not in body
    expected = "순위" if language == "ko" else "Rank the options"
    assert expected in body
    listing = client.get(reverse("communities:poll_list", kwargs={"community_id": world.jangan.pk}))
    assert listing.status_code == 200 and poll.title in listing.content.decode()  # polls from nodes above count


def test_manager_creates_publishes_opens_closes_and_publishes_results_from_the_pages(world: World, now: datetime) -> None:
    client = Client()
    client.force_login(world.manager)
    url = reverse("communities:poll_create", kwargs={"community_id": world.root.pk})
    bad = client.post(url, {"title": "", "method": "ranked", "options": "A", "opens_at": "x", "closes_at": "y"})
    assert bad.status_code == 200 and not Poll.objects.exists()
    form = {"title": "Park name", "method": "ranked", "options": "Maple\nPine\nOak",
            "opens_at": timezone.localtime(now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": timezone.localtime(now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    created = client.post(url, form)
    poll = Poll.objects.get()
    assert created.status_code == 302 and poll.status == Poll.Status.DRAFT
    action = reverse("communities:poll_action", kwargs={"poll": poll.ledger_id})
    members = [world.add_member(f"m{index}", world.suwon) for index in range(3)]  # members before publication vote
    for step in ("publish", "open"):
        client.post(action, {"action": step})
    poll.refresh_from_db()
    assert poll.status == Poll.Status.OPEN
    hidden = client.get(reverse("communities:poll_results", kwargs={"poll": poll.ledger_id}))
    assert 'id="results-hidden"' in hidden.content.decode()
    k = keys_of(poll)
    from communities.services.poll_voting import cast_registered

    for member, ranking in zip(members, [["Maple", "Oak"], ["Pine", "Oak"], ["Oak", "Pine"]], strict=True):
        cast_registered(member, poll, cast_tx(PrivateKey.generate(), poll, [k[n] for n in ranking]), timezone.now())
    for step in ("close", "publish_results"):
        client.post(action, {"action": step})
    poll.refresh_from_db()
    assert poll.status == Poll.Status.PUBLISHED
    page = client.get(reverse("communities:poll_results", kwargs={"poll": poll.ledger_id})).content.decode()
    assert "irv-rounds" in page and "Pine" in page
    assert poll.results["result"]["winners"] == [k["Pine"]]


def test_draft_polls_are_hidden_from_non_managers(world: World, now: datetime) -> None:
    poll = poll_services.create_poll(world.manager, world.root, draft("single", now), now)
    assert Client().get(reverse("communities:poll_detail", kwargs={"poll": poll.ledger_id})).status_code == 404
    stranger = Client()
    response = stranger.post(reverse("communities:poll_action", kwargs={"poll": poll.ledger_id}), {"action": "publish"})
    assert response.status_code == 302
    assert Poll.objects.get(pk=poll.pk).status == Poll.Status.DRAFT


def test_the_api_does_not_describe_drafts(world: World, now: datetime) -> None:
    poll = poll_services.create_poll(world.manager, world.root, draft("single", now), now)
    response = Client().get(api("poll_api_detail", poll))
    assert response.status_code == 404 and response.json()["code"] == "poll_not_found"


@pytest.mark.parametrize(("method", "extra", "ballots", "expected"), [
    ("single", {}, ["o1", "o1", "o2"], "Winner:"),
    ("multi", {"max_choices": 2}, [["o1", "o2"], ["o2"]], "Winner:"),
    ("yna", {"options": ()}, ["yes", "no"], "Not passed: as many yes as no."),
    ("score", {"score_max": 3}, [{"o1": 3, "o2": 0, "o3": 1}], "Sum of scores"),
    ("single", {"anonymous": True}, [], "no per-node results"),
])
def test_results_page_shows_each_method_from_the_ledger(
    world: World, now: datetime, method: str, extra: dict[str, Any], ballots: list[Any], expected: str
) -> None:
    from communities.services.poll_voting import cast_registered

    members = [world.add_member(f"v{index}", world.jangan) for index in range(len(ballots))]
    poll = open_poll(world, method, now, **extra)
    for member, ballot in zip(members, ballots, strict=True):
        cast_registered(member, poll, cast_tx(PrivateKey.generate(), poll, ballot), now)
    poll_services.close_poll(world.manager, poll, now)
    poll_services.publish_results(world.manager, poll, now)
    client = Client()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("communities:poll_results", kwargs={"poll": poll.ledger_id}))
    body = page.content.decode()
    assert page.status_code == 200 and expected in body
    if ballots:  # per-node roll-up: the voters' node and every node above it
        assert "장안" in body and "수원" in body
