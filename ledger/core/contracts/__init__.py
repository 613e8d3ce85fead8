"""Registered contracts. Importing this package registers every built-in one."""

from . import poll, system, vote  # noqa: F401  (import registers the classes)
from .base import (
    Contract,
    ExecContext,
    contract_source,
    contract_source_sha256,
    get_contract,
    register,
    registered_ids,
)

__all__ = [
    "Contract",
    "ExecContext",
    "contract_source",
    "contract_source_sha256",
    "get_contract",
    "register",
    "registered_ids",
]
