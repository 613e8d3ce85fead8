"""Expected failures of the communities app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`.
"""

from __future__ import annotations

from typing import ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.errors import ProjectError


class CommunityError(ProjectError):
    """Root of communities failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "community_error"
    default_message: ClassVar[str | Promise] = "Community poll operation failed."


# --- tree, members, proposals (communities.services.tree/members/proposals) -------------------
# Messages are lazy translations, rendered in the request's language when the error is raised.


class CommunityNotFound(CommunityError):
    code = "community_not_found"
    http_status = 404
    default_message = _("No such community node.")


class NotAManager(CommunityError):
    code = "not_a_manager"
    http_status = 403
    default_message = _("Only a manager of this node (or of a node above it) may do this.")


class NotAMember(CommunityError):
    code = "not_a_member"
    http_status = 403
    default_message = _("Only members of this node (or of a node below it) may do this.")


class MemberSignInRequired(CommunityError):
    code = "member_sign_in_required"
    http_status = 401
    default_message = _("Sign in as a community member first.")


class InvalidCommunityInput(CommunityError):
    """Field validation; detail["errors"] maps field -> list of messages."""

    code = "invalid_community_input"
    default_message = _("Some fields are not valid.")


class SlugTaken(CommunityError):
    code = "slug_taken"
    http_status = 409
    default_message = _("Another node under the same parent already uses this short name.")


class MoveCreatesCycle(CommunityError):
    code = "move_creates_cycle"
    http_status = 409
    default_message = _("A node cannot be moved under itself or under one of its own descendants.")


class CommunityNotEmpty(CommunityError):
    code = "community_not_empty"
    http_status = 409
    default_message = _("Only a node without child nodes, members, proposals or polls can be deleted.")


class InvitationNotFound(CommunityError):
    code = "invitation_not_found"
    http_status = 404
    default_message = _("This invitation link is not valid.")


class InvitationExpired(CommunityError):
    code = "invitation_expired"
    http_status = 410
    default_message = _("This invitation link has expired or was withdrawn.")


class InvitationUsedUp(CommunityError):
    code = "invitation_used_up"
    http_status = 410
    default_message = _("This invitation link has been used as often as allowed.")


class RollInvalid(CommunityError):
    """A roll file with bad rows; detail["errors"] lists {row, field, code}; nothing was imported."""

    code = "roll_invalid"
    default_message = _("The roll file has errors; nothing was imported.")


class RollTooLarge(CommunityError):
    code = "roll_too_large"
    http_status = 413
    default_message = _("The roll file is too large.")


class PhoneInvalid(CommunityError):
    code = "phone_invalid"
    default_message = _("Enter a Korean mobile number such as 010-1234-5678.")


class SignInCodeUnknown(CommunityError):
    code = "otp_challenge_unknown"
    http_status = 404
    default_message = _("Request a new code.")


class SignInCodeExpired(CommunityError):
    code = "otp_expired"
    http_status = 410
    default_message = _("The code has expired; request a new one.")


class SignInCodeUsed(CommunityError):
    code = "otp_used"
    http_status = 409
    default_message = _("This code was already used; request a new one.")


class SignInCodeLocked(CommunityError):
    code = "otp_locked"
    http_status = 429
    default_message = _("Too many wrong codes; request a new one.")


class SignInCodeInvalid(CommunityError):
    code = "otp_invalid"
    default_message = _("The code is not correct.")


class SignInCodeRateLimited(CommunityError):
    code = "otp_rate_limited"
    http_status = 429
    default_message = _("Too many codes were requested for this number; try again later.")


class ProposalNotFound(CommunityError):
    code = "proposal_not_found"
    http_status = 404
    default_message = _("No such proposal.")


class ProposalWrongStatus(CommunityError):
    code = "proposal_wrong_status"
    http_status = 409
    default_message = _("The proposal is not in a state that allows this.")


class AlreadyEndorsed(CommunityError):
    code = "already_endorsed"
    http_status = 409
    default_message = _("You already endorsed this proposal.")
