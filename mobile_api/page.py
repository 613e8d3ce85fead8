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
        "preparing": _("Preparing your anonymous ballot on this phone…"),
        "credential_ok": _("Your anonymous voting key is ready. The server does not know it."),
        "choose_one": _("Choose one."),
        "choose_up_to": _("Choose up to %(k)s."),
        "choose_first": _("Choose a candidate first."),
        "review_none": _("No choice (blank ballot)"),
        "casting": _("Recording your vote on the ledger…"),
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
