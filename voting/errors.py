"""Expected failures of the voting app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`. The default
message is translatable and may name keys of `detail` (``%(station)s``), so the web UI
shows the same sentence the API returns.
"""

from __future__ import annotations

from typing import ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.errors import ProjectError


class VotingError(ProjectError):
    """Root of voting failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "voting_error"
    default_message: ClassVar[str | Promise] = "Voting operation failed."
    # Form field the error belongs to, so a view can show it next to that field.
    field: ClassVar[str | None] = None


# --- access ----------------------------------------------------------------------------------


class ElectionNotFound(VotingError):
    code = "election_not_found"
    http_status = 404
    default_message = _("No such election, or you have no access to it.")


class AccessDenied(VotingError):
    code = "access_denied"
    http_status = 403
    default_message = _("Your role in this election does not allow this.")


class NotFound(VotingError):
    code = "not_found"
    http_status = 404
    default_message = _("Not found.")


# --- lifecycle and setup ------------------------------------------------------------------------


class ElectionWrongStatus(VotingError):
    code = "election_wrong_status"
    http_status = 409
    default_message = _("This cannot be done while the election is %(status)s.")


class InvalidElection(VotingError):
    """Form-level validation of an election or candidate; ``detail["errors"]`` maps field -> messages."""

    code = "invalid_election"
    default_message = _("Please correct the errors below.")


class SetupIncomplete(VotingError):
    code = "setup_incomplete"
    http_status = 409
    default_message = _("The setup checklist is not complete.")


class ScheduleNotReached(VotingError):
    code = "schedule_not_reached"
    http_status = 409
    default_message = _("Voting cannot open before the scheduled opening time.")


class SchedulePassed(VotingError):
    code = "schedule_passed"
    http_status = 409
    default_message = _("The scheduled closing time has passed; the election can no longer open.")


class EarlyCloseNotConfirmed(VotingError):
    code = "early_close_not_confirmed"
    http_status = 409
    field = "confirm_early"
    default_message = _("Closing before the scheduled time must be confirmed explicitly.")


# --- roll --------------------------------------------------------------------------------------


class RollFileInvalid(VotingError):
    """The whole upload was refused; ``detail["errors"]`` lists every (line, column, reason)."""

    code = "roll_file_invalid"
    field = "file"
    default_message = _("The file was not imported: %(error_count)s problems found.")


class RollLocked(VotingError):
    code = "roll_locked"
    http_status = 409
    default_message = _("The voter roll is locked because vote tokens have been issued.")


# --- stations, kiosks and tokens -------------------------------------------------------------------


class StationNotFound(VotingError):
    code = "station_not_found"
    http_status = 404
    default_message = _("No such polling station.")


class InvalidStation(VotingError):
    code = "invalid_station"
    default_message = _("Please correct the errors below.")


class InvalidRole(VotingError):
    code = "invalid_role"
    default_message = _("Please correct the errors below.")


class NoVotersAtStation(VotingError):
    code = "no_voters_at_station"
    http_status = 409
    default_message = _("No eligible voters are assigned to this station.")


class TokensAlreadyIssued(VotingError):
    code = "tokens_already_issued"
    http_status = 409
    default_message = _(
        "Token cards for this station were already issued and downloaded; the download works only once."
    )


class TokenIssuanceInProgress(VotingError):
    code = "token_issuance_in_progress"
    http_status = 409
    default_message = _("Token cards for this station are being generated right now.")


# --- check-in ------------------------------------------------------------------------------------


class VoterNotFound(VotingError):
    code = "voter_not_found"
    http_status = 404
    default_message = _("No voter on this election's roll matches.")


class VoterAlreadyCheckedIn(VotingError):
    code = "voter_already_checked_in"
    http_status = 409
    default_message = _("This voter has already checked in. Do not hand out another card.")


class VoterHasMobileCredential(VotingError):
    code = "voter_has_mobile_credential"
    http_status = 409
    default_message = _(
        "This voter has already received a mobile voting credential and cannot vote at a station."
    )


class WrongStation(VotingError):
    code = "wrong_station"
    http_status = 409
    default_message = _("This voter is registered at another polling station: %(station)s.")


class NationalIdMismatch(VotingError):
    code = "national_id_mismatch"
    field = "national_id"
    default_message = _("The ID number does not match the roll entry.")


# --- ledger ----------------------------------------------------------------------------------------


class LedgerUnavailable(VotingError):
    code = "ledger_unavailable"
    http_status = 503
    default_message = _("The ledger network did not confirm the operation; nothing was changed. Try again.")


class LedgerRejected(VotingError):
    code = "ledger_rejected"
    http_status = 409
    default_message = _("The ledger rejected the operation: %(reason)s.")
