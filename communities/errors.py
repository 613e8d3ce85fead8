"""Expected failures of the communities app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class CommunityError(Exception):
    """Root of communities failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "community_error"
    default_message: ClassVar[str] = "Community poll operation failed."

    def __init__(self, message: str = "", detail: Mapping[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.detail: dict[str, Any] = dict(detail or {})
        super().__init__(self.message)
