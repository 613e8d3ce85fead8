"""Failures of the public node itself (not alarms about the nodes it watches)."""

from __future__ import annotations

from typing import Any, ClassVar


class PublicNodeError(Exception):
    """Root of the public node's expected failures; ``code`` is stable."""

    code: ClassVar[str] = "public_node_error"

    def __init__(self, message: str = "", **detail: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.detail: dict[str, Any] = detail


class UsageError(PublicNodeError):
    """Bad command line or a data directory that belongs to another chain (exit code 2)."""

    code = "usage"


class NodeUnreachable(PublicNodeError):
    """A node did not answer, timed out or answered with an HTTP error."""

    code = "node_unreachable"


class StoreInvalid(PublicNodeError):
    """The local copy of the chain does not verify any more (edited or damaged on disk)."""

    code = "local_store_invalid"
