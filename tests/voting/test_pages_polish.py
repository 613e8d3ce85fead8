"""What the officials read: labels, names and details as people read them, in both languages."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from voting.models import Election, PollingStation, VoterRollEntry

from .factories import roll_rows, to_csv
from .inprocess_ledger import InProcessTransport

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Client, official: User) -> Client:
    client.force_login(official)
    return client


@pytest.fixture
def open_election(
    signed_in: Client, election: Election, station: PollingStation, station2: PollingStation,
    transport: InProcessTransport,
) -> Election:
    """Scheduled, a roll of 6 voters at two stations, kiosks and cards for both, voting open."""
    pk = election.pk
    assert signed_in.post(reverse("voting:confirm", args=[pk, "schedule"])).status_code == 302
    rows = roll_rows(6, ["suwon-1", "yongin-1"])
    signed_in.post(reverse("voting:roll", args=[pk]), {"file": SimpleUploadedFile("r.csv", to_csv(rows))})
    for s in (station, station2):
        signed_in.post(reverse("voting:kiosks", args=[pk]), {"station": s.pk, "label": "booth-1"})
        assert signed_in.post(reverse("voting:issue_tokens", args=[pk, s.pk])).status_code == 200
    assert signed_in.post(reverse("voting:confirm", args=[pk, "open"])).status_code == 302
    return Election.objects.get(pk=pk)


def _check_in(client: Client, election: Election, station: PollingStation, count: int) -> None:
    entries = VoterRollEntry.objects.filter(election=election, station=station).order_by("roll_number")[:count]
    for entry in entries:
        url = reverse("voting:check_in_confirm", args=[election.pk, station.pk, entry.pk])
        assert client.post(url, {"id_confirmed": "on"}).status_code == 302


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_token_cards_page_shows_the_roll_and_the_cards_issued_after_check_ins(
    signed_in: Client, open_election: Election, station: PollingStation,
) -> None:
    _check_in(signed_in, open_election, station, 2)
    page = signed_in.get(reverse("voting:tokens", args=[open_election.pk]), HTTP_ACCEPT_LANGUAGE="en")
    text = _text(page.content.decode())
    assert "Voters on the roll" in text and "Cards issued" in text and "Eligible voters" not in text
    # suwon-1 holds 3 voters and 3 cards; checking two of them in changes neither figure.
    assert re.search(r"Station suwon-1 suwon-1 3 3 Downloaded", text), text
    assert re.search(r"Total 6 6", text), text
    korean = _text(signed_in.get(reverse("voting:tokens", args=[open_election.pk]), HTTP_ACCEPT_LANGUAGE="ko")
                   .content.decode())
    assert "명부 등재 선거인" in korean and "발급 카드 수" in korean


def test_check_in_station_list_keeps_name_and_code_apart(signed_in: Client, open_election: Election) -> None:
    page = signed_in.get(reverse("voting:check_in_stations", args=[open_election.pk])).content.decode()
    assert '<span class="station-name">Station suwon-1</span>' in page
    assert '<span class="station-meta">수원시 · <code>suwon-1</code></span>' in page
    assert "<code>yongin-1</code>" in page


def test_audit_log_reads_as_labels_and_values_not_python(
    signed_in: Client, open_election: Election, station: PollingStation, outsider: User,
) -> None:
    signed_in.post(reverse("voting:team", args=[open_election.pk]),
                   {"username": outsider.username, "role": "poll_worker", "station": station.pk})
    _check_in(signed_in, open_election, station, 1)
    page = signed_in.get(reverse("voting:audit_log", args=[open_election.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert "{&#x27;" not in html and "{'" not in html and "voter_checked_in" not in html
    text = _text(html)
    for phrase in ("Voter checked in", "Role granted", "Token cards issued", "Election scheduled on the ledger",
                   "Voting opened", "Election created", "Ledger transaction", "Polling station suwon-1"):
        assert phrase in text, phrase
    assert "User outsider" in text and "Role Poll worker" in text  # the user's name, the role's label
    assert '<dl class="detail-list">' in html
    korean = _text(signed_in.get(reverse("voting:audit_log", args=[open_election.pk]),
                                 HTTP_ACCEPT_LANGUAGE="ko").content.decode())
    assert "선거인 본인 확인" in korean and "역할 투표사무원" in korean and "투표소 suwon-1" in korean


def test_refusal_names_the_status_as_the_ui_does(signed_in: Client, election: Election) -> None:
    english = signed_in.get(reverse("voting:results", args=[election.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 409
    assert "while the election is Draft." in english.content.decode()
    korean = signed_in.get(reverse("voting:results", args=[election.pk]), HTTP_ACCEPT_LANGUAGE="ko")
    assert "&#x27;작성 중&#x27; 상태일 때는" in korean.content.decode()
    assert 'class="tabs"' in korean.content.decode()  # the election's tabs stay on the error page


@pytest.mark.parametrize(("language", "message"), [("en", "Voting is open."), ("ko", "투표가 시작되었습니다.")])
def test_lifecycle_messages_follow_the_request_language(
    signed_in: Client, election: Election, station: PollingStation, transport: InProcessTransport,
    language: str, message: str,
) -> None:
    pk = election.pk
    signed_in.post(reverse("voting:confirm", args=[pk, "schedule"]))
    signed_in.post(reverse("voting:roll", args=[pk]), {"file": SimpleUploadedFile("r.csv", to_csv(roll_rows(2, ["suwon-1"])))})
    signed_in.post(reverse("voting:kiosks", args=[pk]), {"station": station.pk, "label": "booth-1"})
    signed_in.post(reverse("voting:issue_tokens", args=[pk, station.pk]))
    page = signed_in.post(reverse("voting:confirm", args=[pk, "open"]), follow=True, HTTP_ACCEPT_LANGUAGE=language)
    assert message in page.content.decode()


@pytest.mark.parametrize("path", ["/", "/ledger/status/", "/elections/", "/stations/"])
def test_every_page_has_the_same_site_navigation(signed_in: Client, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger import views as ledger_views

    class NoNodes:
        def statuses(self) -> dict[str, object]:
            return {}

    monkeypatch.setattr(ledger_views.NodeClient, "from_settings", classmethod(lambda cls: NoNodes()))
    html = signed_in.get(path, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    nav = html[html.index('<nav class="site-nav"'):html.index("</nav>")]
    for label in ("선거", "투표소", "원장 노드", "로그아웃 (official)"):
        assert label in nav, (path, label)
