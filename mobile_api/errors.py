"""Expected failures of the mobile_api app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`. Messages are
translatable (Korean and English), so the phone shows the sentence the API returns.
Nothing in a message or detail ever names a voter, a phone number, a code or an address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.errors import ProjectError


class MobileApiError(ProjectError):
    """Root of mobile_api failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "mobile_api_error"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str | Promise] = "Mobile voting request failed."


# --- elections --------------------------------------------------------------------------------


class MobileElectionNotFound(MobileApiError):
    code = "election_not_found"
    http_status = 404
    default_message = _("No election with mobile voting has this id.")


class MobileElectionNotOpen(MobileApiError):
    code = "election_not_open"
    http_status = 409
    default_message = _("Mobile voting for this election is not open.")


# --- one-time codes -----------------------------------------------------------------------------


class OtpChallengeUnknown(MobileApiError):
    code = "otp_challenge_unknown"
    http_status = 404
    default_message = _("This code request is unknown. Ask for a new code.")


class OtpInvalid(MobileApiError):
    code = "otp_invalid"
    default_message = _("The code is wrong. Attempts left: %(attempts_left)s.")


class OtpExpired(MobileApiError):
    code = "otp_expired"
    http_status = 410
    default_message = _("The code has expired. Ask for a new code.")


class OtpLocked(MobileApiError):
    code = "otp_locked"
    http_status = 403
    default_message = _("Too many wrong codes. Ask for a new code.")


class OtpUsed(MobileApiError):
    code = "otp_used"
    http_status = 409
    default_message = _("This code was already used.")


# --- device session and credential -----------------------------------------------------------------


class SessionInvalid(MobileApiError):
    code = "session_invalid"
    http_status = 401
    default_message = _("Your verification has expired or is not valid. Start again with a new code.")


class SessionNotAllowed(MobileApiError):
    """Mint and vote must be anonymous: a request that carries the session would link them."""

    code = "session_not_allowed"
    default_message = _("Do not send the verification session with a ballot; it would identify you.")


class BlindedMessageInvalid(MobileApiError):
    code = "blinded_msg_invalid"
    default_message = _("The blinded message is not valid for this election's key.")


class VoterCheckedIn(MobileApiError):
    code = "voter_checked_in"
    http_status = 409
    default_message = _("You have already checked in at a polling station, so you cannot vote by phone.")


class CredentialAlreadyIssued(MobileApiError):
    code = "credential_already_issued"
    http_status = 409
    default_message = _("A mobile voting credential was already issued to you.")


class CredentialKeyUnavailable(MobileApiError):
    code = "credential_key_unavailable"
    http_status = 503
    default_message = _("The election's credential key is not available. Try again later.")


# --- submissions ------------------------------------------------------------------------------------


class TxInvalid(MobileApiError):
    code = "tx_invalid"
    default_message = _("The transaction is not valid: %(reason)s.")


class TxRejected(MobileApiError):
    """The ledger refused the transaction; ``code`` is the ledger's own (credential_already_used, ...)."""

    http_status = 409
    default_message = _("The ledger refused the transaction (%(reason)s).")

    def __init__(self, ledger_code: str, detail: Mapping[str, Any] | None = None) -> None:
        self.code = ledger_code  # type: ignore[misc]  # instance code: the ledger's stable code
        super().__init__("", {"reason": ledger_code, **dict(detail or {})})


class TrackingCodeInvalid(MobileApiError):
    code = "tracking_code_invalid"
    default_message = _("A tracking code is 64 hexadecimal digits.")
