"""Communities models; each module re-exported here so `communities.models.X` works everywhere."""

from .tree import (
    Community,
    CommunityManager,
    Endorsement,
    Invitation,
    Member,
    MemberOtpChallenge,
    Membership,
    Proposal,
)
from .polls import Poll, PollOption, PollRegistration  # noqa: F401  (re-exported: polls, H2b)

__all__ = [
    "Community",
    "CommunityManager",
    "Endorsement",
    "Invitation",
    "Member",
    "MemberOtpChallenge",
    "Membership",
    "Proposal",
]
