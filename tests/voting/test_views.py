"""The officials' pages end to end through Django's test client: good input, bad input, no 500s."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from voting.models import Election, ElectionRole, PollingStation, TokenBatch, VoterRollEntry

from .factories import roll_rows, to_csv
from .inprocess_ledger import InProcessTransport

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def signed_in(client: Client, official: User) -> Client:
    client.force_login(official)
    return client


def election_form(now: datetime, **overrides: str) -> dict[str, str]:
    from django.utils import timezone

    local = timezone.localtime(now)
    data = {
        "title": "Suwon mayor 2026", "description": "", "kind": "single", "max_choices": "1", "region": "",
        "opens_at": (local - timedelta(minutes=1)).strftime(LOCAL), "closes_at": (local + timedelta(hours=8)).strftime(LOCAL),
        "candidates-TOTAL_FORMS": "3", "candidates-INITIAL_FORMS": "0", "candidates-MIN_NUM_FORMS": "0",
        "candidates-MAX_NUM_FORMS": "200",
        "candidates-0-name": "Kim", "candidates-0-party": "A", "candidates-1-name": "Lee", "candidates-1-party": "B",
        "candidates-2-name": "", "candidates-2-party": "",
    }
    data.update(overrides)
    return data


def test_pages_need_sign_in(client: Client) -> None:
    response = client.get(reverse("voting:election_list"))
    assert response.status_code == 302
    assert reverse("voting:sign_in") in response["Location"]
    assert client.get(reverse("voting:sign_in")).status_code == 200


def test_sign_in_with_wrong_password_shows_error(client: Client, official: User) -> None:
    response = client.post(reverse("voting:sign_in"), {"username": "official", "password": "wrong"})
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()


def test_create_election_bad_input_shows_errors_next_to_fields(signed_in: Client, now: datetime, suwon) -> None:
    data = election_form(now, title="", closes_at="not a date", region=str(suwon.pk))
    response = signed_in.post(reverse("voting:election_create"), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_title_error"' in page and 'id="id_closes_at_error"' in page
    assert not Election.objects.exists()


def test_create_election_service_errors_land_on_fields(signed_in: Client, now: datetime, suwon) -> None:
    from django.utils import timezone

    local = timezone.localtime(now)
    data = election_form(now, region=str(suwon.pk), closes_at=(local - timedelta(hours=2)).strftime(LOCAL),
                         **{"candidates-1-name": ""})
    response = signed_in.post(reverse("voting:election_create"), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Closing must be after opening." in page
    assert "Enter at least two candidates." in page
    assert not Election.objects.exists()


def test_outsider_gets_404_for_someone_elses_election(client: Client, outsider: User, election: Election) -> None:
    client.force_login(outsider)
    assert client.get(reverse("voting:dashboard", args=[election.pk])).status_code == 404
    assert client.get(reverse("voting:election_create")).status_code == 403


def test_observer_cannot_manage(client: Client, election: Election, outsider: User, official: User, now: datetime) -> None:
    ElectionRole.objects.create(election=election, user=outsider, role="observer", granted_by=official, granted_at=now)
    client.force_login(outsider)
    assert client.get(reverse("voting:dashboard", args=[election.pk])).status_code == 200
    assert client.get(reverse("voting:roll", args=[election.pk])).status_code == 403
    assert client.post(reverse("voting:confirm", args=[election.pk, "schedule"])).status_code == 403


def test_roll_upload_bad_then_good(signed_in: Client, election: Election, station: PollingStation) -> None:
    bad = to_csv([("R1", "Kim", "1990-13-01", "suwon-1", "", ""), ("R1", "", "1980-01-01", "nowhere", "12", "")])
    url = reverse("voting:roll", args=[election.pk])
    response = signed_in.post(url, {"file": SimpleUploadedFile("roll.csv", bad)}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "Nothing was imported: 5 problems found" in page
    assert "Not a date; use YYYY-MM-DD." in page and "Duplicate of line 2." in page
    assert not VoterRollEntry.objects.exists()
    good = to_csv(roll_rows(4, ["suwon-1"]))
    response = signed_in.post(url, {"file": SimpleUploadedFile("roll.csv", good)}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Imported 4 voters" in response.content.decode()
    assert VoterRollEntry.objects.count() == 4


def test_roll_upload_without_file_is_a_field_error(signed_in: Client, election: Election) -> None:
    response = signed_in.post(reverse("voting:roll", args=[election.pk]), {}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert 'id="id_file_error"' in response.content.decode()


def test_whole_flow_through_the_pages(
    signed_in: Client, official: User, election: Election, station: PollingStation, transport: InProcessTransport,
) -> None:
    pk = election.pk
    assert signed_in.post(reverse("voting:confirm", args=[pk, "schedule"])).status_code == 302
    signed_in.post(reverse("voting:roll", args=[pk]), {"file": SimpleUploadedFile("r.csv", to_csv(roll_rows(3, ["suwon-1"])))})
    response = signed_in.post(reverse("voting:confirm", args=[pk, "open"]), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "The setup checklist is not complete." in response.content.decode()
    response = signed_in.post(reverse("voting:kiosks", args=[pk]), {"station": station.pk, "label": "booth-1"})
    assert "kiosk_" in response.content.decode()
    response = signed_in.post(reverse("voting:issue_tokens", args=[pk, station.pk]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    again = signed_in.post(reverse("voting:issue_tokens", args=[pk, station.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "download works only once" in again.content.decode()
    assert TokenBatch.objects.get().count == 3
    assert signed_in.post(reverse("voting:confirm", args=[pk, "open"])).status_code == 302
    assert Election.objects.get(pk=pk).status == "open"

    lookup = signed_in.get(reverse("voting:check_in", args=[pk, station.pk]), {"roll_number": "R0000001"})
    assert "Voter 1" in lookup.content.decode()
    entry = VoterRollEntry.objects.get(roll_number="R0000001")
    confirm_url = reverse("voting:check_in_confirm", args=[pk, station.pk, entry.pk])
    assert signed_in.post(confirm_url, {}).status_code == 400  # ID confirmation box not ticked
    assert signed_in.post(confirm_url, {"id_confirmed": "on"}).status_code == 302
    second = signed_in.post(confirm_url, {"id_confirmed": "on"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "already checked in" in second.content.decode()

    assert signed_in.get(reverse("voting:turnout", args=[pk])).status_code == 200
    assert signed_in.get(reverse("voting:turnout_json", args=[pk])).json()["totals"]["checked_in"] == 1
    early = signed_in.post(reverse("voting:confirm", args=[pk, "close"]), {}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "must be confirmed explicitly" in early.content.decode()
    signed_in.post(reverse("voting:confirm", args=[pk, "close"]), {"confirm_early": "on"})
    signed_in.post(reverse("voting:confirm", args=[pk, "tally"]))
    assert signed_in.get(reverse("voting:results", args=[pk])).status_code == 200
    signed_in.post(reverse("voting:confirm", args=[pk, "publish"]))
    anonymous = Client()
    public = anonymous.get(reverse("voting:results", args=[pk]))
    assert public.status_code == 200 and "<svg" in public.content.decode()
    assert anonymous.get(reverse("voting:results_export", args=[pk, "json"])).status_code == 200
    csv_text = anonymous.get(reverse("voting:results_export", args=[pk, "csv"])).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("level,code,name,Kim Minjun,Lee Seoyeon,total")
    assert signed_in.get(reverse("voting:audit_log", args=[pk])).status_code == 200


def test_station_form_reports_bad_and_duplicate_codes(signed_in: Client, suwon, station: PollingStation) -> None:
    url = reverse("voting:stations")
    bad = signed_in.post(url, {"code": "Bad Code!", "name": "x", "region": suwon.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and 'id="id_code_error"' in bad.content.decode()
    duplicate = signed_in.post(url, {"code": "suwon-1", "name": "x", "region": suwon.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert "A station with this code exists." in duplicate.content.decode()
    assert signed_in.post(url, {"code": "suwon-2", "name": "Suwon 2", "region": suwon.pk}).status_code == 302
    assert PollingStation.objects.filter(code="suwon-2").exists()


def test_team_form_reports_unknown_user_and_grants_roles(signed_in: Client, election: Election, outsider: User) -> None:
    url = reverse("voting:team", args=[election.pk])
    unknown = signed_in.post(url, {"username": "nobody", "role": "observer"}, HTTP_ACCEPT_LANGUAGE="en")
    assert unknown.status_code == 400 and "No user has this user name." in unknown.content.decode()
    assert signed_in.post(url, {"username": "outsider", "role": "poll_worker"}).status_code == 302
    assert ElectionRole.objects.filter(election=election, user=outsider, role="poll_worker").exists()


@pytest.mark.parametrize("path", ["/elections/999999/", "/elections/999999/roll/", "/elections/999999/results/",
                                  "/elections/999999/results.json", "/elections/1/do/explode/"])
def test_unknown_things_are_404_not_500(signed_in: Client, path: str) -> None:
    assert signed_in.get(path).status_code in {404}


def test_results_before_tally_are_refused_politely(signed_in: Client, election: Election) -> None:
    response = signed_in.get(reverse("voting:results", args=[election.pk]))
    assert response.status_code == 409


def test_unknown_export_format_is_404(client: Client, election: Election) -> None:
    assert client.get(f"/elections/{election.pk}/results.xml").status_code == 404
