"""HTML pages: the booth (or its pairing screen) and the public tracking page."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from .devices import MAX_CREDENTIAL_LENGTH, authenticate_device, forget_credential, get_request_kiosk, store_credential
from .errors import KioskError, KioskNotPaired, TrackingCodeInvalid
from .security import kiosk_headers, tracking_headers
from .strings import get_catalogues
from .tracking import track_transaction, validate_tracking_code

# Seconds before the receipt screen clears itself for the next voter, and before an abandoned ballot does.
DONE_RESET_S = 30
IDLE_RESET_S = 180


class PairingForm(forms.Form):
    credential = forms.CharField(label=_("Kiosk credential"), max_length=MAX_CREDENTIAL_LENGTH, strip=True)


class TrackingForm(forms.Form):
    code = forms.CharField(label=_("Tracking code"), max_length=100, strip=True)


@kiosk_headers
def booth(request: HttpRequest) -> HttpResponse:
    """The booth app for a paired device; the pairing screen (with the reason) otherwise."""
    try:
        kiosk = get_request_kiosk(request)
    except KioskError as exc:
        reason = None if isinstance(exc, KioskNotPaired) else exc.message
        return render(request, "kiosk/pair.html", {"form": PairingForm(), "reason": reason})
    language = "en" if (get_language() or "ko").startswith("en") else "ko"
    catalogues = get_catalogues()
    return render(request, "kiosk/booth.html", {
        "kiosk": kiosk, "catalogues": catalogues, "ui": catalogues[language]["ui"], "language": language,
        "done_reset_s": DONE_RESET_S, "idle_reset_s": IDLE_RESET_S,
    })


@require_POST
@kiosk_headers
def pair(request: HttpRequest) -> HttpResponse:
    """An official enters the credential shown once at registration; the browser keeps it in an HttpOnly cookie."""
    form = PairingForm(request.POST)
    if form.is_valid():
        credential = form.cleaned_data["credential"]
        try:
            authenticate_device(credential)
        except KioskError as exc:
            form.add_error("credential", exc.message)
        else:
            response = redirect("kiosk:booth")
            store_credential(response, credential)
            return response
    return render(request, "kiosk/pair.html", {"form": form, "reason": None}, status=400)


@require_POST
@kiosk_headers
def unpair(request: HttpRequest) -> HttpResponse:
    response = redirect("kiosk:booth")
    forget_credential(response)
    return response


@require_http_methods(["GET", "HEAD"])
@tracking_headers
def track(request: HttpRequest, tracking_code: str = "") -> HttpResponse:
    """Public page: is this tracking code's vote on every node? (Form, or the code in the path.)"""
    code = tracking_code or request.GET.get("code", "")
    form = TrackingForm({"code": code} if code else None)
    report = None
    status = 200
    if code:
        try:
            report = track_transaction(validate_tracking_code(code))
        except TrackingCodeInvalid as exc:
            form.is_valid()
            form.add_error("code", exc.message)
            status = 400
    return render(request, "kiosk/track.html", {"form": form, "report": report}, status=status)
