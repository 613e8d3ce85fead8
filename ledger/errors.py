"""Expected failures of the ledger app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`.
Rejections of transactions and blocks come from ``ledger.core.errors`` and keep their
codes; the errors here are about storage, node operation and talking to nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class LedgerServiceError(Exception):
    """Root of ledger failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "ledger_service_error"
    default_message: ClassVar[str] = "Ledger service failure."
    http_status: ClassVar[int] = 400

    def __init__(self, message: str = "", detail: Mapping[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.detail: dict[str, Any] = dict(detail or {})
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


# --- storage ----------------------------------------------------------------------------


class AppendOnlyViolation(LedgerServiceError):
    """Ledger rows are written once; updates and deletes are refused."""

    code = "append_only"
    default_message = "Ledger records are append-only."
    http_status = 409


class NodeNotInitialised(LedgerServiceError):
    code = "node_not_initialised"
    default_message = "This database holds no genesis; run ledger_init first."
    http_status = 409


class GenesisMismatch(LedgerServiceError):
    code = "genesis_mismatch"
    default_message = "The database was initialised with another genesis."
    http_status = 409


class StoredChainCorrupt(LedgerServiceError):
    """The stored chain does not link up or does not re-execute: refuse to start on it."""

    code = "stored_chain_corrupt"
    default_message = "The stored chain is inconsistent."
    http_status = 500


class BlockNotFound(LedgerServiceError):
    code = "block_not_found"
    default_message = "No block at that height."
    http_status = 404


# --- node configuration and operation -------------------------------------------------------


class NodeConfigInvalid(LedgerServiceError):
    code = "node_config_invalid"
    default_message = "The node home directory is not usable."


class MempoolFull(LedgerServiceError):
    code = "mempool_full"
    default_message = "The node's mempool is full; retry later."
    http_status = 503


class BadRequest(LedgerServiceError):
    """Malformed API input that is not a ledger object (query strings, batch envelope)."""

    code = "bad_request"
    default_message = "Bad request."


class NotFound(LedgerServiceError):
    code = "not_found"
    default_message = "Not found."
    http_status = 404


class SyncFailed(LedgerServiceError):
    code = "sync_failed"
    default_message = "Could not sync blocks from a peer."
    http_status = 502


# --- client side ----------------------------------------------------------------------------


class NodeUnavailable(LedgerServiceError):
    """No configured node answered."""

    code = "node_unavailable"
    default_message = "No ledger node is reachable."
    http_status = 503


class NodeRequestFailed(LedgerServiceError):
    """A node answered with an error; ``code`` is the node's own error code."""

    code = "node_request_failed"
    default_message = "The ledger node refused the request."
    http_status = 502

    def __init__(
        self,
        message: str = "",
        detail: Mapping[str, Any] | None = None,
        *,
        node_code: str = "",
        status: int = 0,
    ) -> None:
        super().__init__(message, detail)
        if node_code:
            self.code = node_code  # type: ignore[misc]  # the node's stable code, for callers to map
        self.status = status
