"""Test plumbing for the mobile API: the reference client over Django's test client, and a ready election.

``DjangoTransport`` lets ``clients.evote_mobile.MobileVotingClient`` call the real views
in-process (middleware, throttles, exception handler and all) with a chosen client address.
``build_mobile_election`` runs the officials' real services: create with mobile voting,
schedule (RSA key + ledger ``create`` with the key + ``mobile`` station), import a roll with
phone numbers, issue the station's cards, register a kiosk and open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from clients.evote_mobile import MobileVotingClient, extract_code, normalise_phone
from mobile_api import sms
from voting.models import Election, PollingStation, Region, VoterRollEntry
from voting.services.elections import open_election, schedule_election
from voting.services.roll import import_roll
from voting.services.tokens import issue_tokens

from tests.voting.factories import make_election, make_kiosk, roll_rows, to_csv


class DjangoTransport:
    """The client's Transport over django.test.Client (no cookies are sent: a fresh Client per call)."""

    def __init__(self, remote_addr: str = "203.0.113.7") -> None:
        self.remote_addr = remote_addr
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
        extra = {"REMOTE_ADDR": self.remote_addr}
        extra.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
        client = Client()
        if body is None:
            response = client.generic(method, path, **extra)
        else:
            response = client.generic(method, path, data=json.dumps(body), content_type="application/json", **extra)
        self.calls.append((method, path, response.status_code))
        content = response.content
        return response.status_code, json.loads(content) if content else None


@dataclass(frozen=True)
class Voter:
    entry_id: int
    phone: str
    birth_date: str


@dataclass
class MobileElection:
    election: Election
    voters: list[Voter]
    station: PollingStation


def build_mobile_election(official: User, region: Region, station: PollingStation, now: datetime, *,
                          voters: int = 4, start: int = 1, title: str = "Gyeonggi governor 2026",
                          **election_fields: Any) -> MobileElection:
    election = make_election(official, region, now, mobile_voting=True, title=title, **election_fields)
    rows = roll_rows(voters, [station.code], start=start)
    import_roll(official, election, file_name="roll.csv", data=to_csv(rows), now=now)
    schedule_election(official, election, now)
    make_kiosk(station, official, label=f"booth-{election.pk}")
    issue_tokens(official, election, station, now=now)
    open_election(official, election, now)
    election.refresh_from_db()
    found = []
    for row in rows:
        entry = VoterRollEntry.objects.get(election=election, roll_number=row[0])
        found.append(Voter(entry.pk, row[4], row[2]))
    return MobileElection(election, found, station)


def read_last_code(phone: str) -> str:
    """The code of the newest SMS to ``phone`` in the locmem outbox."""
    number = normalise_phone(phone)
    for message in reversed(sms.outbox):
        if message.to == number:
            return extract_code(message.text)
    raise AssertionError(f"no SMS was sent to {number}")


def make_client(remote_addr: str = "203.0.113.7") -> MobileVotingClient:
    return MobileVotingClient(transport=DjangoTransport(remote_addr))


def parse_birth_date(text: str) -> date:
    return date.fromisoformat(text)
