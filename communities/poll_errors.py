"""Expected failures of community polls (typed codes; config.api_errors renders them, pages show the message).

Nothing in a message or detail names a member together with an address or a ballot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from .errors import CommunityError


class PollError(CommunityError):
    code = "poll_error"
    http_status = 400
    default_message = _("The poll operation failed.")


class PollInvalid(PollError):
    """A draft with problems; ``detail["errors"]`` maps form fields to messages."""

    code = "poll_invalid"
    default_message = _("The poll has errors; nothing was saved.")


class PollNotFound(PollError):
    code = "poll_not_found"
    http_status = 404
    default_message = _("No such poll.")


class PollWrongStatus(PollError):
    code = "poll_wrong_status"
    http_status = 409
    default_message = _("The poll cannot do that in its current state.")


class PollScheduleNotReached(PollError):
    code = "poll_schedule_not_reached"
    http_status = 409
    default_message = _("The poll cannot open before its scheduled opening time.")


class PollManagerRequired(PollError):
    code = "poll_manager_required"
    http_status = 403
    default_message = _("Only a manager of this community (or of a node above it) may do this.")


class PollNotEligible(PollError):
    code = "poll_not_eligible"
    http_status = 403
    default_message = _("You are not a member of the community this poll is for.")


class PollJoinedAfterPublish(PollError):
    """The member joined the poll's community after the poll was published.

    Eligible members are counted per unit when the poll is published and the count is fixed on
    the ledger (docs/protocol.md 16.2 ``eligible``), so turnout has an honest denominator; a
    later member is not in that count and cannot vote in this poll (only in later ones).
    """

    code = "poll_joined_after_publish"
    http_status = 403
    default_message = _("You joined this community after the poll was published, so you cannot vote in it. "
                        "Polls published from now on include you.")


class PollNotOpen(PollError):
    code = "poll_not_open"
    http_status = 409
    default_message = _("The poll is not open for voting.")


class PollAlreadyRegistered(PollError):
    """The member already has an address in this poll and tries another one (a second key)."""

    code = "poll_already_registered"
    http_status = 409
    default_message = _("You already voted, or started voting, in this poll from another browser or device.")


class PollCredentialAlreadyIssued(PollError):
    code = "poll_credential_already_issued"
    http_status = 409
    default_message = _("An anonymous credential for this poll was already issued to you.")


class PollBlindedMessageInvalid(PollError):
    code = "poll_blinded_msg_invalid"
    default_message = _("The blinded credential request is not valid for this poll's key.")


class PollSessionNotAllowed(PollError):
    """Anonymous enrol/cast must not carry the member's session, or the server could join them."""

    code = "session_not_allowed"
    default_message = _("Anonymous votes are sent without the member sign-in; this request carried it.")


class PollTxInvalid(PollError):
    code = "poll_tx_invalid"
    default_message = _("The signed transaction is not a valid transaction for this poll.")


class PollTxRejected(PollError):
    """The ledger refused the transaction; ``code`` is the ledger's own (poll_already_cast, ballot_invalid, ...)."""

    http_status = 409
    default_message = _("The ledger refused the vote.")

    def __init__(self, ledger_code: str, detail: Mapping[str, Any] | None = None) -> None:
        self.code = ledger_code  # type: ignore[misc]  # instance code: the ledger's stable code
        super().__init__("", {"reason": ledger_code, **dict(detail or {})})


class PredictionInvalid(PollError):
    code = "prediction_invalid"
    default_message = _("Only a closed prediction poll can be resolved, once, with one of its options.")
