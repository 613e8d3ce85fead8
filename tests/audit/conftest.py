"""Fixtures for the observer dashboard: roles, node URL settings, an election with tokens on the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ledger.config import get_ledger_settings
from ledger.core.crypto import PrivateKey
from tests.voting import conftest as voting_fixtures
from tests.voting.factories import roll_rows, to_csv
from voting.ledger_gateway import get_gateway
from voting.models import Election, ElectionRole, PollingStation
from voting.services.elections import schedule_election
from voting.services.roll import import_roll

PASSWORD = "correct horse battery staple"

# The voting tests' fixtures (users, stations, elections, in-process ledger, the real node), shared here.
now = voting_fixtures.now
transport = voting_fixtures.transport
official = voting_fixtures.official
outsider = voting_fixtures.outsider
suwon = voting_fixtures.suwon
station = voting_fixtures.station
station2 = voting_fixtures.station2
election = voting_fixtures.election
ledger_node = voting_fixtures.ledger_node
node_gateway = voting_fixtures.node_gateway


def grant(user: User, election: Election, role: str, granted_by: User, station: PollingStation | None = None) -> None:
    ElectionRole.objects.create(election=election, user=user, role=role, station=station, granted_by=granted_by,
                                granted_at=timezone.now())


@pytest.fixture
def observer(official: User, election: Election) -> User:
    user = User.objects.create_user("observer", password=PASSWORD)
    grant(user, election, ElectionRole.Role.OBSERVER, official)
    return user


@pytest.fixture
def node_urls(settings: Any) -> Iterator[Any]:
    """Set ``LEDGER["NODE_URLS"]`` for one test: call the yielded function with the URLs."""

    def use(*urls: str) -> None:
        settings.LEDGER = {**settings.LEDGER, "NODE_URLS": list(urls)}
        get_ledger_settings.cache_clear()

    yield use
    get_ledger_settings.cache_clear()


def put_on_ledger(official: User, election: Election, station: PollingStation, now: datetime,
                  voters: int = 3) -> list[PrivateKey]:
    """Schedule, import ``voters`` at ``station``, register and mint their tokens, open: returns the token keys.

    Tokens are minted through the gateway with keys kept here (what card printing does, minus the PDF),
    so tests can vote with them.
    """
    schedule_election(official, election, now)
    import_roll(official, election, file_name="roll.csv", data=to_csv(roll_rows(voters, [station.code])), now=now)
    gateway = get_gateway()
    keys = [PrivateKey.generate() for _ in range(voters)]
    gateway.register_station(election=election.ledger_id, station=station.code, voters=voters)
    gateway.mint(election=election.ledger_id, station=station.code, addresses=[k.address for k in keys])
    gateway.open_election(election=election.ledger_id)
    # What open_election does once its checklist is complete (kiosks and cards are not the point here).
    Election.objects.filter(pk=election.pk).update(status="open")
    election.refresh_from_db()
    return keys
