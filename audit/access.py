"""Who may observe an election: its observers and officials (superusers too), nobody else.

Poll workers see a voter's name at the desk; they are not given the cross-node audit view
(it is not part of their job, and the role is the smallest one). Like ``voting.access``,
an election the user may not observe is reported as not found, which does not reveal it.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from voting.access import is_superuser
from voting.models import Election, ElectionRole

from .errors import ElectionNotObservable, SignInRequired

User = AbstractBaseUser | AnonymousUser
OBSERVING_ROLES = (ElectionRole.Role.OBSERVER, ElectionRole.Role.OFFICIAL)


def list_observable_elections(user: User) -> QuerySet[Election]:
    """Elections the user may observe, newest first."""
    elections = Election.objects.select_related("region")
    if is_superuser(user):
        return elections.all()
    if not user.is_authenticated:
        return elections.none()
    return elections.filter(roles__user=user, roles__role__in=OBSERVING_ROLES).distinct()


def can_observe(user: User, election_id: int) -> bool:
    return list_observable_elections(user).filter(pk=election_id).exists()


def access_observed_election(user: User, election_id: int) -> Election:
    """The election if ``user`` observes it; SignInRequired for anonymous users, else ElectionNotObservable."""
    if not user.is_authenticated:
        raise SignInRequired(detail={"election": election_id})
    election = list_observable_elections(user).filter(pk=election_id).first()
    if election is None:
        raise ElectionNotObservable(detail={"election": election_id})
    return election
