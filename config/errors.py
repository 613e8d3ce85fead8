"""The shared root of the apps' expected errors: a stable code, a translatable message, structured detail.

Each app's ``errors.py`` derives its own root from ``ProjectError`` (``VotingError``,
``MobileApiError``) so callers catch per app, while the message rule lives once: the default
message may name keys of ``detail`` (``%(station)s``), filled in when the error is raised, so
the web UI shows the same sentence the API returns. ``config.api_errors`` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.functional import Promise


class ProjectError(Exception):
    code: ClassVar[str] = "error"
    default_message: ClassVar[str | Promise] = "The operation failed."

    def __init__(self, message: str = "", detail: Mapping[str, Any] | None = None) -> None:
        self.detail: dict[str, Any] = dict(detail or {})
        self.message = message or self.format_default_message()
        super().__init__(self.message)

    def format_default_message(self) -> str:
        """The default message with ``%(key)s`` placeholders filled from detail (missing keys left as is)."""
        text = str(self.default_message)
        try:
            return text % self.detail if "%(" in text else text
        except (KeyError, ValueError, TypeError):
            return text
