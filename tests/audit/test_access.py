"""Who may open the observer dashboard and its JSON: observers and officials of that election only."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.voting.factories import make_election
from voting.models import Election, ElectionRole, PollingStation, Region

from .conftest import PASSWORD, grant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _dead_node(node_urls: object) -> None:
    """Access checks need no ledger: one node URL that refuses connections keeps them fast and offline."""
    from tests.voting.ledger_node import free_port

    node_urls(f"http://127.0.0.1:{free_port()}")  # type: ignore[operator]


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def user(name: str) -> User:
    return User.objects.create_user(name, password=PASSWORD)


def test_anonymous_is_sent_to_sign_in_and_gets_401_json(election: Election) -> None:
    page = Client().get(f"/audit/elections/{election.pk}/")
    assert page.status_code == 302 and page["Location"].startswith(reverse("voting:sign_in"))
    data = Client().get(f"/audit/elections/{election.pk}/snapshot.json")
    assert data.status_code == 401 and data.json()["code"] == "sign_in_required"


def test_poll_worker_and_strangers_are_refused(official: User, election: Election, station: PollingStation) -> None:
    worker, stranger = user("worker"), user("stranger")
    grant(worker, election, ElectionRole.Role.POLL_WORKER, official, station)
    for who in (worker, stranger):
        client = signed_in(who)
        page = client.get(f"/audit/elections/{election.pk}/")
        assert page.status_code == 404 and "election_not_observable" in page.content.decode()
        data = client.get(f"/audit/elections/{election.pk}/snapshot.json")
        assert data.status_code == 404 and data.json()["code"] == "election_not_observable"
        assert election.title not in client.get("/audit/").content.decode()


def test_an_observer_of_another_election_is_refused(
    official: User, election: Election, suwon: Region, now: datetime,
) -> None:
    other = make_election(official, suwon, now, title="Another election")
    watcher = user("watcher")
    grant(watcher, other, ElectionRole.Role.OBSERVER, official)
    client = signed_in(watcher)
    assert client.get(f"/audit/elections/{election.pk}/").status_code == 404
    assert client.get(f"/audit/elections/{election.pk}/snapshot.json").status_code == 404
    assert client.get(f"/audit/elections/{other.pk}/").status_code == 200


def test_a_missing_election_looks_like_a_forbidden_one(observer: User) -> None:
    data = signed_in(observer).get("/audit/elections/999999/snapshot.json")
    assert data.status_code == 404 and data.json()["code"] == "election_not_observable"


@pytest.mark.parametrize("who", ["observer", "official"])
def test_observer_and_official_see_the_dashboard(who: str, observer: User, official: User, election: Election) -> None:
    client = signed_in(observer if who == "observer" else official)
    listing = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/audit/elections/{election.pk}/" in listing
    page = client.get(f"/audit/elections/{election.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-section="nodes"' in html and "observer.js" in html
    assert "<script>" not in html  # no inline script: the live feed is the static module
    data = client.get(f"/audit/elections/{election.pk}/snapshot.json").json()
    assert data["election"]["id"] == election.pk
    # A draft is not on the ledger yet, and the only configured node refuses connections.
    assert {a["code"] for a in data["anomalies"]} == {"election_not_on_ledger", "node_unreachable", "no_node_reachable"}


def test_korean_is_the_default_language(observer: User, election: Election) -> None:
    html = signed_in(observer).get(f"/audit/elections/{election.pk}/").content.decode()
    assert "참관인 대시보드" in html
    data = signed_in(observer).get(f"/audit/elections/{election.pk}/snapshot.json", HTTP_ACCEPT_LANGUAGE="ko").json()
    message = next(a["message"] for a in data["anomalies"] if a["code"] == "no_node_reachable")
    assert "원장 노드" in message
