"""Per-election roles: the access_* selectors return the object or raise, and nothing else hands it out."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, User

from voting.access import (
    Capability,
    access_election,
    access_station_for_check_in,
    can_create_elections,
    list_check_in_stations,
    list_elections_for,
)
from voting.errors import AccessDenied, ElectionNotFound, StationNotFound
from voting.models import Election, ElectionRole, PollingStation, VoterRollEntry

pytestmark = pytest.mark.django_db


def grant(election: Election, user: User, role: str, by: User, now: datetime, station: PollingStation | None = None) -> None:
    ElectionRole.objects.create(election=election, user=user, role=role, station=station, granted_by=by, granted_at=now)


def put_on_roll(election: Election, station: PollingStation, number: str) -> None:
    VoterRollEntry.objects.create(election=election, roll_number=number, name="n", birth_date="1980-01-01", station=station)


CASES = [
    ("official", Capability.MANAGE, True),
    ("official", Capability.VIEW_RESULTS, True),
    ("poll_worker", Capability.CHECK_IN, True),
    ("poll_worker", Capability.MANAGE, False),
    ("poll_worker", Capability.VIEW_TURNOUT, False),
    ("observer", Capability.VIEW_TURNOUT, True),
    ("observer", Capability.CHECK_IN, False),
    ("observer", Capability.MANAGE, False),
]


@pytest.mark.parametrize(("role", "capability", "allowed"), CASES)
def test_role_capabilities(election: Election, outsider: User, official: User, now: datetime,
                           role: str, capability: Capability, allowed: bool) -> None:
    grant(election, outsider, role, official, now)
    if allowed:
        assert access_election(outsider, election.pk, capability) == election
    else:
        with pytest.raises(AccessDenied):
            access_election(outsider, election.pk, capability)


def test_users_without_a_role_cannot_tell_the_election_exists(election: Election, outsider: User) -> None:
    with pytest.raises(ElectionNotFound):
        access_election(outsider, election.pk)
    with pytest.raises(ElectionNotFound):
        access_election(AnonymousUser(), election.pk)
    with pytest.raises(ElectionNotFound):
        access_election(outsider, 999_999)
    assert list(list_elections_for(outsider)) == []


def test_published_results_are_public(election: Election) -> None:
    Election.objects.filter(pk=election.pk).update(status="published")
    assert access_election(AnonymousUser(), election.pk, Capability.VIEW_RESULTS).pk == election.pk
    with pytest.raises(AccessDenied):
        access_election(AnonymousUser(), election.pk, Capability.VIEW_TURNOUT)


def test_creator_is_official_and_group_decides_who_creates(election: Election, official: User, outsider: User) -> None:
    assert ElectionRole.objects.get(election=election, user=official).role == "official"
    assert can_create_elections(official) and not can_create_elections(outsider)
    assert not can_create_elections(AnonymousUser())


def test_poll_worker_bound_to_a_station_checks_in_only_there(
    election: Election, official: User, outsider: User, station: PollingStation, station2: PollingStation, now: datetime,
) -> None:
    put_on_roll(election, station, "1")
    put_on_roll(election, station2, "2")
    grant(election, outsider, "poll_worker", official, now, station=station)
    assert access_station_for_check_in(outsider, election, station.pk) == station
    with pytest.raises(AccessDenied):
        access_station_for_check_in(outsider, election, station2.pk)
    assert list(list_check_in_stations(outsider, election)) == [station]
    assert list(list_check_in_stations(official, election)) == [station, station2]


def test_station_without_voters_in_the_election_is_not_found(election: Election, official: User, station: PollingStation) -> None:
    with pytest.raises(StationNotFound):
        access_station_for_check_in(official, election, station.pk)
