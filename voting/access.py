"""Who may do what: roles per election, and ``access_*`` selectors that return the object or raise.

Roles (``ElectionRole``): an *official* runs the election, a *poll worker* checks voters in
(optionally at one station only), an *observer* watches turnout and results. Members of the
``election_officials`` group (and superusers) may create elections and manage stations; the
creator of an election becomes its official. Published results are public.

Views never fetch an election by id themselves: ``access_election`` is the only way, so a
missing permission cannot be forgotten. An election the user may not see is reported as
not found, which does not reveal that it exists.
"""

from __future__ import annotations

from enum import Enum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .errors import AccessDenied, ElectionNotFound, StationNotFound
from .lifecycle import Status
from .models import Election, ElectionRole, PollingStation

OFFICIALS_GROUP = "election_officials"
User = AbstractBaseUser | AnonymousUser


class Capability(str, Enum):
    VIEW = "view"  # see the election's dashboard
    MANAGE = "manage"  # edit, import the roll, issue tokens, open, close, tally, publish, grant roles
    CHECK_IN = "check_in"  # look voters up and check them in
    VIEW_TURNOUT = "view_turnout"
    VIEW_RESULTS = "view_results"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    ElectionRole.Role.OFFICIAL: frozenset(Capability),
    ElectionRole.Role.POLL_WORKER: frozenset({Capability.VIEW, Capability.CHECK_IN}),
    ElectionRole.Role.OBSERVER: frozenset({Capability.VIEW, Capability.VIEW_TURNOUT, Capability.VIEW_RESULTS}),
}


def is_superuser(user: User) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


def can_create_elections(user: User) -> bool:
    """Superusers and members of the officials' group may create elections and stations."""
    if not user.is_authenticated:
        return False
    return is_superuser(user) or user.groups.filter(name=OFFICIALS_GROUP).exists()  # type: ignore[union-attr]


def get_roles(user: User, election: Election) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(ElectionRole.objects.filter(election=election, user=user).values_list("role", flat=True))


def get_capabilities(user: User, election: Election) -> frozenset[Capability]:
    """Everything ``user`` may do in ``election`` given their roles (published results are public)."""
    if is_superuser(user):
        return frozenset(Capability)
    granted: set[Capability] = set()
    for role in get_roles(user, election):
        granted |= ROLE_CAPABILITIES[role]
    if election.status == Status.PUBLISHED:
        granted.add(Capability.VIEW_RESULTS)
    return frozenset(granted)


def access_election(user: User, election_id: int, capability: Capability = Capability.VIEW) -> Election:
    """The election if ``user`` has ``capability`` in it; ElectionNotFound if they cannot see it at all."""
    election = Election.objects.select_related("region").filter(pk=election_id).first()
    if election is None:
        raise ElectionNotFound(detail={"election": election_id})
    capabilities = get_capabilities(user, election)
    if capability not in capabilities:
        if not capabilities:
            raise ElectionNotFound(detail={"election": election_id})
        raise AccessDenied(detail={"capability": capability.value})
    return election


def access_station_for_check_in(user: User, election: Election, station_id: int) -> PollingStation:
    """A station where ``user`` may check voters in: any station with voters, or the one they are bound to."""
    station = PollingStation.objects.filter(pk=station_id, roll_entries__election=election).distinct().first()
    if station is None:
        raise StationNotFound(detail={"station": station_id})
    if is_superuser(user):
        return station
    roles = ElectionRole.objects.filter(election=election, user=user)
    if roles.filter(role=ElectionRole.Role.OFFICIAL).exists():
        return station
    bound = set(roles.filter(role=ElectionRole.Role.POLL_WORKER).values_list("station_id", flat=True))
    if None in bound or station.pk in bound:
        return station
    raise AccessDenied(detail={"station": station.code})


def list_check_in_stations(user: User, election: Election) -> QuerySet[PollingStation]:
    """Stations of ``election`` where ``user`` may check voters in."""
    stations = PollingStation.objects.filter(roll_entries__election=election).distinct().order_by("code")
    if is_superuser(user):
        return stations
    roles = ElectionRole.objects.filter(election=election, user=user)
    if roles.filter(role=ElectionRole.Role.OFFICIAL).exists():
        return stations
    bound = set(roles.filter(role=ElectionRole.Role.POLL_WORKER).values_list("station_id", flat=True))
    if None in bound:
        return stations
    return stations.filter(pk__in=bound)


def list_elections_for(user: User) -> QuerySet[Election]:
    """Elections the user has any role in (all for superusers)."""
    elections = Election.objects.select_related("region")
    if is_superuser(user):
        return elections.all()
    if not user.is_authenticated:
        return elections.none()
    return elections.filter(roles__user=user).distinct()


def require_election_creator(user: User) -> None:
    if not can_create_elections(user):
        raise AccessDenied(detail={"capability": "create_election"})
