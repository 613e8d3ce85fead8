"""Every sentence the booth page shows, in both languages at once.

The kiosk switches between Korean and English without reloading (a reload would drop the
token key of a voter in the middle of voting), so the page receives both catalogues as a
JSON data block; the texts themselves come from Django's translation files.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from . import errors

UI_STRINGS: dict[str, str | Promise] = {
    "app_title": _("Voting booth"),
    "language": _("Language"),
    "text_smaller": _("Smaller text"),
    "text_larger": _("Larger text"),
    "contrast": _("High contrast"),
    "welcome_title": _("Welcome to the voting booth"),
    "welcome_body": _("Your vote is secret. Scan the token card you drew, make your choice and confirm it."),
    "start": _("Start"),
    "scan_title": _("Scan your token card"),
    "scan_body": _("Hold the QR code of your card in front of the camera, or read it with the scanner."),
    "scan_input_label": _("Card code (the scanner types it here)"),
    "scan_submit": _("Check the card"),
    "camera_on": _("The camera is looking for a QR code."),
    "camera_off": _("No camera available: use the scanner."),
    "checking": _("Checking the card…"),
    "cancel": _("Cancel"),
    "ballot_title": _("Your ballot"),
    "ballot_single": _("Choose one."),
    "ballot_approval": _("Choose up to {k}."),
    "ballot_limit": _("You have already chosen {k}. Remove a mark to choose another."),
    "ballot_need_one": _("Choose one before you continue."),
    "review": _("Review my choice"),
    "review_title": _("Check your choice"),
    "review_body": _("Your vote goes to:"),
    "review_blank": _("No mark (blank ballot)"),
    "review_check": _("Card check code"),
    "back": _("Change my choice"),
    "confirm": _("Confirm and cast my vote"),
    "sending_title": _("Recording your vote…"),
    "sending_body": _("Please wait. Do not leave the booth."),
    "retrying_title": _("Still trying to record your vote"),
    "retrying_body": _(
        "The ledger network is not answering yet. Your signed vote is kept and sent again automatically. "
        "Do not leave the booth; a poll worker can help."
    ),
    "done_title": _("Your vote is recorded"),
    "done_body": _("It is final on the ledger, in block {height}."),
    "done_code": _("Your tracking code"),
    "done_track": _("You can check later on the public tracking page (/track/) that your vote is on the ledger. "
                    "The code does not reveal your choice."),
    "finish": _("Finish"),
    "reset_in": _("This screen is cleared in {s} seconds."),
    "rejected_title": _("Your vote was not recorded"),
    "rejected_help": _("Please ask a poll worker for help."),
    "no_election": _("No election is open at this kiosk right now."),
    "network": _("The kiosk cannot reach its server. Please wait."),
    "station": _("Polling station"),
}

# Messages of error codes the page may meet (the API sends the same text in ``message``).
ERROR_STRINGS: dict[str, str | Promise] = {
    "card_malformed": _("This is not a vote token card, or it was misread. Please scan it again."),
    "card_check_mismatch": _("The card was misread (its check code does not match). Please scan it again."),
    "token_already_spent": _("This card has already been used to vote. Nothing was recorded."),
    "token_not_minted": errors.TokenUnknown.default_message,
    "wrong_candidate": _("The ballot does not match this election. Nothing was recorded."),
    "vote_rejected": errors.VoteRejected.default_message,
    **{
        cls.code: cls.default_message
        for cls in (
            errors.KioskNotPaired, errors.KioskUnknown, errors.KioskRevoked, errors.CsrfFailed, errors.TokenUnknown,
            errors.TokenSpent, errors.TokenWrongElection, errors.TokenWrongStation, errors.ElectionNotOpen,
            errors.ElectionClosed, errors.ElectionNotServed, errors.TxMalformed, errors.TxWrongChain,
            errors.LedgerUnreachable, errors.VoteNotConfirmed,
        )
    },
}


def get_catalogue(language: str) -> dict[str, dict[str, str]]:
    """UI texts and error messages in ``language``."""
    with translation.override(language):
        return {
            "ui": {key: str(text) for key, text in UI_STRINGS.items()},
            "errors": {key: str(text) for key, text in ERROR_STRINGS.items()},
        }


def get_catalogues() -> dict[str, dict[str, dict[str, str]]]:
    return {"ko": get_catalogue("ko"), "en": get_catalogue("en")}
