"""Expected failures of the kiosk app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`. Messages are
translatable: the kiosk shows the same sentence the API returns, in the voter's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.errors import ProjectError


class KioskError(ProjectError):
    """Root of kiosk failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "kiosk_error"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str | Promise] = "Kiosk operation failed."
    # True when the same request may succeed later unchanged (the kiosk keeps retrying).
    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "", detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, detail)
        if self.retryable:
            self.detail.setdefault("retryable", 1)


# --- device authentication ---------------------------------------------------------------------


class KioskNotPaired(KioskError):
    code = "kiosk_not_paired"
    http_status = 401
    default_message = _("This device is not paired with a polling station.")


class KioskUnknown(KioskError):
    code = "kiosk_unknown"
    http_status = 401
    default_message = _("The kiosk credential is not recognised. Ask an election official to pair the device again.")


class KioskRevoked(KioskError):
    code = "kiosk_revoked"
    http_status = 403
    default_message = _("This kiosk was revoked by an election official and can no longer take votes.")


class CsrfFailed(KioskError):
    code = "csrf_failed"
    http_status = 403
    default_message = _("The request was refused (missing or wrong CSRF token). Reload the page.")


class InvalidInput(KioskError):
    code = "invalid_input"
    default_message = _("Invalid input.")


# --- token checks (the scan step) ---------------------------------------------------------------


class TokenUnknown(KioskError):
    code = "token_unknown"
    http_status = 404
    default_message = _("This card is not a valid vote token of this election.")


class TokenSpent(KioskError):
    code = "token_spent"
    http_status = 409
    default_message = _("This card has already been used to vote. Nothing was recorded.")


class TokenWrongElection(KioskError):
    code = "token_wrong_election"
    http_status = 409
    default_message = _("This card belongs to another election, not the one held at this kiosk.")


class TokenWrongStation(KioskError):
    code = "token_wrong_station"
    http_status = 409
    default_message = _("This card was issued for another polling station.")


class ElectionNotOpen(KioskError):
    code = "election_not_open"
    http_status = 409
    default_message = _("Voting in this election has not opened yet.")


class ElectionClosed(KioskError):
    code = "election_closed"
    http_status = 409
    default_message = _("Voting in this election is closed.")


# --- submission ------------------------------------------------------------------------------------


class TxMalformed(KioskError):
    code = "tx_malformed"
    default_message = _("The signed vote is not a well-formed ledger transaction.")


class TxWrongChain(KioskError):
    code = "tx_wrong_chain"
    default_message = _("The signed vote is for another ledger network.")


class TxWrongContract(KioskError):
    code = "tx_wrong_contract"
    default_message = _("The signed transaction is not a vote.")


class TxWrongType(KioskError):
    code = "tx_wrong_type"
    default_message = _("The signed transaction is not a vote transfer.")


class ElectionNotServed(KioskError):
    code = "election_not_served"
    http_status = 403
    default_message = _("This kiosk does not take votes for that election.")


class VoteRejected(KioskError):
    """The ledger refused the vote; ``code`` is the ledger's own code (token_already_spent, signature_invalid...)."""

    code = "vote_rejected"
    http_status = 409
    default_message = _("The ledger refused this vote. Nothing was recorded.")

    def __init__(self, ledger_code: str, message: str = "", detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, {"reason": ledger_code, **(detail or {})})
        self.code = ledger_code or type(self).code  # type: ignore[misc]  # instance code: the ledger's


class VoteNotConfirmed(KioskError):
    """No node confirmed the vote in time; it may still commit, so the kiosk resubmits the same bytes."""

    code = "vote_not_confirmed"
    http_status = 503
    retryable = True
    default_message = _("The vote is not confirmed yet. The kiosk keeps it and tries again; please wait.")


class LedgerUnreachable(KioskError):
    code = "ledger_unavailable"
    http_status = 503
    retryable = True
    default_message = _("The ledger network cannot be reached right now. Please wait; the kiosk tries again.")


# --- public tracking ------------------------------------------------------------------------------


class TrackingCodeInvalid(KioskError):
    code = "tracking_code_invalid"
    default_message = _("A tracking code is 64 characters 0-9 and a-f.")
