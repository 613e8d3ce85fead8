"""Who may watch a poll's statistics: members of its scope, managers of its node or above, site staff.

Members sign in to the communities world by invitation or SMS code (a session key, not a
Django user), managers and staff are Django users; a socket or a request carries both. Like
the other access selectors, a poll the caller may not watch is reported as not found (the
same answer as a poll that does not exist), except that an anonymous caller is told to sign
in. Draft polls have no statistics (they are not on the ledger yet).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.translation import gettext_lazy as _

from .errors import CommunityError
from .models import Membership, Poll
from .services import tree
from .services.members import SESSION_KEY

User = AbstractBaseUser | AnonymousUser


class StatsSignInRequired(CommunityError):
    """Nobody is signed in (neither a member nor a staff user)."""

    code: ClassVar[str] = "stats_sign_in_required"
    http_status: ClassVar[int] = 401
    default_message: ClassVar[str] = _("Sign in as a member, a manager or staff to see this poll's statistics.")


class StatsNotVisible(CommunityError):
    """No published poll with this id whose statistics the caller may see."""

    code: ClassVar[str] = "stats_not_visible"
    http_status: ClassVar[int] = 404
    default_message: ClassVar[str] = _("No poll with this id whose statistics you may see.")


def get_member_id(session: Any) -> int | None:
    member_id = session.get(SESSION_KEY) if session is not None else None
    return member_id if isinstance(member_id, int) else None


def can_watch(user: User, member_id: int | None, poll: Poll) -> bool:
    if poll.status == Poll.Status.DRAFT:
        return False
    if user.is_authenticated and (getattr(user, "is_staff", False) or tree.is_manager(user, poll.community)):
        return True
    return member_id is not None and Membership.objects.filter(
        member_id=member_id, community__path__startswith=poll.community.path).exists()


def access_poll_statistics(user: User, member_id: int | None, ledger_id: str) -> Poll:
    """The poll if the caller may watch its statistics; StatsSignInRequired or StatsNotVisible otherwise."""
    if not user.is_authenticated and member_id is None:
        raise StatsSignInRequired(detail={"poll": ledger_id[:64]})
    poll = Poll.objects.select_related("community").filter(ledger_id=ledger_id).first()
    if poll is None or not can_watch(user, member_id, poll):
        raise StatsNotVisible(detail={"poll": ledger_id[:64]})
    return poll
