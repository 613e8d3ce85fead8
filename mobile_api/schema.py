"""OpenAPI description of the device-session bearer authentication (drf-spectacular extension)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceSessionScheme(OpenApiAuthenticationExtension):
    target_class = "mobile_api.authentication.DeviceSessionAuthentication"
    name = "deviceSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The session returned by otp/verify; accepted only by the credential endpoint.",
        }
