"""Security headers on every response: a strict Content-Security-Policy and a closed Permissions-Policy.

Why a middleware and not per-view decorators: a page that forgets its decorator would be
served without a policy, and every page here is same-origin only (ES modules from
``static/``, no inline script or style, no third-party origin), so one strict default fits
all. Views with special needs set their own header first and the middleware leaves it be:
the kiosk booth allows the camera for its own origin (``kiosk.security``) and the mobile
page keeps its own, equally strict, policy.

Django's own SecurityMiddleware already sends X-Content-Type-Options, Referrer-Policy and
Cross-Origin-Opener-Policy (settings ``SECURE_*``), and XFrameOptionsMiddleware sends
``X-Frame-Options: DENY``; ``frame-ancestors 'none'`` below is the modern form of the latter.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# No page but the kiosk booth (which sets its own) needs a device feature.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), display-capture=()"
CROSS_ORIGIN_RESOURCE_POLICY = "same-origin"


class SecurityHeadersMiddleware:
    """Add the default policies to every response that does not carry its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = PERMISSIONS_POLICY
        if "Cross-Origin-Resource-Policy" not in response:
            response["Cross-Origin-Resource-Policy"] = CROSS_ORIGIN_RESOURCE_POLICY
        return response
