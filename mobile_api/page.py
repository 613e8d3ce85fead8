"""What the mobile page's template needs: translated strings for the script, and its CSP."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .config import get_mobile_settings

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
}


def content_security_policy() -> str:
    return "; ".join(f"{name} {value}" for name, value in CSP.items())


def get_script_strings() -> dict[str, str]:
    """Messages the script shows (the API's own error messages arrive already translated)."""
    return {
        "loading": _("Loading elections…"),
        "no_elections": _("No election offers mobile voting right now."),
        "opens": _("Opens"),
        "closes": _("Closes"),
        "not_open_yet": _("Not open yet"),
        "sending_code": _("Sending the code…"),
        "code_sent": _("If your number and birth date are on the roll, a code is on its way by SMS."),
        "checking_code": _("Checking the code…"),
        "choose_one": _("Choose one."),
        "choose_up_to": _("Choose up to %(k)s."),
        "choose_first": _("Choose a candidate first."),
        "review_none": _("No choice (blank ballot)"),
        "step_credential": _("Getting the anonymous credential for this phone…"),
        "step_mint": _("Creating your vote token on the ledger…"),
        "step_vote": _("Recording your vote on the ledger…"),
        "still_trying": _("Still trying to reach the server (attempt %(attempt)s). Do not close this page."),
        "resume_verify_help": _(
            "The page was interrupted before this phone received its anonymous credential. Confirm who you "
            "are again with a new SMS code; this phone then finishes the vote with the choice above."
        ),
        "resume_send_help": _("The anonymous credential is already on this phone. Send the vote now; no code is needed."),
        "resume_verify": _("Confirm who I am again"),
        "resume_send": _("Finish my vote"),
        "show_receipt": _("Show the tracking code of the vote cast from this phone"),
        "network_error": _("The server could not be reached. Check the connection and try again."),
        "unexpected": _("Something went wrong."),
        "status_final": _("Recorded in a final block"),
        "block_height": _("Block %(height)s"),
        "status_pending": _("Pending"),
        "status_unknown": _("Not found"),
        "browser_unsupported": _("This browser cannot create the keys needed to vote. Use a current browser."),
    }


def build_page_context() -> dict[str, Any]:
    delay_ms = int(get_mobile_settings().page_mint_delay_max_s * 1000)
    return {"script_strings": get_script_strings(), "mint_delay_max_ms": delay_ms}
