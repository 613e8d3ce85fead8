"""The verifier's one failure type: a stable protocol code plus where it happened.

Codes are those of docs/protocol.md, so a report can be compared case by case with the
published vectors (rejections.json, broken_chains.json).
"""

from __future__ import annotations

from typing import Any


class Invalid(Exception):
    """Data that breaks a protocol rule; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str, *, field: str | None = None, **detail: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
        self.detail = detail


class BundleUnreadable(Exception):
    """The file is not an evote-bundle this verifier can read (exit code 2, not 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
