"""Response headers of the booth and tracking pages: a strict Content-Security-Policy and camera permission.

The booth page handles token private keys in the browser, so it runs only same-origin
scripts (no inline script or style, no eval, no third-party origin) and may use the camera
for its own origin only; nothing may frame it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), display-capture=()"


# The tracking page shows a receipt and needs no device feature (config.security's closed default).
TRACKING_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), display-capture=()"


def add_kiosk_headers(response: HttpResponse, *, no_store: bool = True, camera: bool = True) -> HttpResponse:
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Permissions-Policy"] = PERMISSIONS_POLICY if camera else TRACKING_PERMISSIONS_POLICY
    if no_store:  # a shared booth device must not show a previous page from its cache
        response["Cache-Control"] = "no-store"
    return response


def kiosk_headers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """View decorator: add the CSP, Permissions-Policy and no-store headers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return add_kiosk_headers(view(request, *args, **kwargs))

    return wrapped


def tracking_headers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """View decorator for the tracking page: the booth's CSP and no-store, but no camera."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return add_kiosk_headers(view(request, *args, **kwargs), camera=False)

    return wrapped
