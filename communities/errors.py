"""Expected failures of the communities app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class CommunityError(Exception):
    """Root of communities failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "community_error"
    default_message: ClassVar[str] = "Community poll operation failed."

    def __init__(self, message: str = "", detail: Mapping[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.detail: dict[str, Any] = dict(detail or {})
        super().__init__(self.message)


# --- tree, members, proposals (communities.services.tree/members/proposals) -------------------
# Messages are lazy translations; the UI shows str(exc.message), the API returns it as "message".

from django.utils.translation import gettext_lazy as _  # noqa: E402  (kept with the classes that use it)


class CommunityNotFound(CommunityError):
    code = "community_not_found"
    http_status = 404
    default_message = _("No such community node.")  # type: ignore[assignment]


class NotAManager(CommunityError):
    code = "not_a_manager"
    http_status = 403
    default_message = _("Only a manager of this node (or of a node above it) may do this.")  # type: ignore[assignment]


class NotAMember(CommunityError):
    code = "not_a_member"
    http_status = 403
    default_message = _("Only members of this node (or of a node below it) may do this.")  # type: ignore[assignment]


class MemberSignInRequired(CommunityError):
    code = "member_sign_in_required"
    http_status = 401
    default_message = _("Sign in as a community member first.")  # type: ignore[assignment]


class InvalidCommunityInput(CommunityError):
    """Field validation; detail["errors"] maps field -> list of messages."""

    code = "invalid_community_input"
    default_message = _("Some fields are not valid.")  # type: ignore[assignment]


class SlugTaken(CommunityError):
    code = "slug_taken"
    http_status = 409
    default_message = _("Another node under the same parent already uses this short name.")  # type: ignore[assignment]


class MoveCreatesCycle(CommunityError):
    code = "move_creates_cycle"
    http_status = 409
    default_message = _("A node cannot be moved under itself or under one of its own descendants.")  # type: ignore[assignment]


class CommunityNotEmpty(CommunityError):
    code = "community_not_empty"
    http_status = 409
    default_message = _("Only a node without child nodes, members, proposals or polls can be deleted.")  # type: ignore[assignment]


class InvitationNotFound(CommunityError):
    code = "invitation_not_found"
    http_status = 404
    default_message = _("This invitation link is not valid.")  # type: ignore[assignment]


class InvitationExpired(CommunityError):
    code = "invitation_expired"
    http_status = 410
    default_message = _("This invitation link has expired or was withdrawn.")  # type: ignore[assignment]


class InvitationUsedUp(CommunityError):
    code = "invitation_used_up"
    http_status = 410
    default_message = _("This invitation link has been used as often as allowed.")  # type: ignore[assignment]


class RollInvalid(CommunityError):
    """A roll file with bad rows; detail["errors"] lists {row, field, code}; nothing was imported."""

    code = "roll_invalid"
    default_message = _("The roll file has errors; nothing was imported.")  # type: ignore[assignment]


class RollTooLarge(CommunityError):
    code = "roll_too_large"
    http_status = 413
    default_message = _("The roll file is too large.")  # type: ignore[assignment]


class PhoneInvalid(CommunityError):
    code = "phone_invalid"
    default_message = _("Enter a Korean mobile number such as 010-1234-5678.")  # type: ignore[assignment]


class SignInCodeUnknown(CommunityError):
    code = "otp_challenge_unknown"
    http_status = 404
    default_message = _("Request a new code.")  # type: ignore[assignment]


class SignInCodeExpired(CommunityError):
    code = "otp_expired"
    http_status = 410
    default_message = _("The code has expired; request a new one.")  # type: ignore[assignment]


class SignInCodeUsed(CommunityError):
    code = "otp_used"
    http_status = 409
    default_message = _("This code was already used; request a new one.")  # type: ignore[assignment]


class SignInCodeLocked(CommunityError):
    code = "otp_locked"
    http_status = 429
    default_message = _("Too many wrong codes; request a new one.")  # type: ignore[assignment]


class SignInCodeInvalid(CommunityError):
    code = "otp_invalid"
    default_message = _("The code is not correct.")  # type: ignore[assignment]


class SignInCodeRateLimited(CommunityError):
    code = "otp_rate_limited"
    http_status = 429
    default_message = _("Too many codes were requested for this number; try again later.")  # type: ignore[assignment]


class ProposalNotFound(CommunityError):
    code = "proposal_not_found"
    http_status = 404
    default_message = _("No such proposal.")  # type: ignore[assignment]


class ProposalWrongStatus(CommunityError):
    code = "proposal_wrong_status"
    http_status = 409
    default_message = _("The proposal is not in a state that allows this.")  # type: ignore[assignment]


class AlreadyEndorsed(CommunityError):
    code = "already_endorsed"
    http_status = 409
    default_message = _("You already endorsed this proposal.")  # type: ignore[assignment]
