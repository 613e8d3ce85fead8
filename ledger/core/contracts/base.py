"""Contract interface and the registry of contract classes.

Contracts are Python classes registered here, never code uploaded at run time.
The *definition* of a contract is its module source; the registry hashes it so
the hash can be pinned on chain (genesis or a ``system.deploy`` transaction),
and a node refuses to execute a contract whose local source differs from the
pinned hash. *Execution* goes through ``execute`` with an overlay that only
the state machine commits; ``query`` gets a read-only view.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from ..errors import MalformedObject, UnknownContract, UnknownTxType
from ..genesis import Genesis
from ..state import Overlay, ReadView
from ..tx import Transaction


@dataclass(frozen=True, slots=True)
class ExecContext:
    """Everything a contract may look at while executing one transaction."""

    genesis: Genesis
    height: int
    time: int  # block time, unix milliseconds
    state: Overlay
    tx: Transaction


Handler = Callable[[Any, ExecContext, dict[str, Any]], None]
QueryHandler = Callable[[Any, ReadView, dict[str, Any]], Any]


class Contract:
    contract_id: ClassVar[str]
    handlers: ClassVar[dict[str, Handler]]
    queries: ClassVar[dict[str, QueryHandler]]

    def execute(self, ctx: ExecContext) -> None:
        handler = self.handlers.get(ctx.tx.type)
        if handler is None:
            raise UnknownTxType(f"contract {self.contract_id} has no method {ctx.tx.type}", type=ctx.tx.type)
        handler(self, ctx, ctx.tx.payload)

    def query(self, view: ReadView, name: str, args: dict[str, Any]) -> Any:
        handler = self.queries.get(name)
        if handler is None:
            raise MalformedObject(f"contract {self.contract_id} has no query {name}", field="query")
        if type(args) is not dict:
            raise MalformedObject("query arguments must be an object", field="args")
        try:
            result = handler(self, view, args)
        except KeyError as exc:  # a required argument is missing
            raise MalformedObject(f"query {name} needs the argument {exc.args[0]!r}", field=str(exc.args[0])) from exc
        # Results may be live state records: hand out a copy so no caller can mutate committed state.
        return copy.deepcopy(result)


_REGISTRY: dict[str, type[Contract]] = {}


def register(cls: type[Contract]) -> type[Contract]:
    """Class decorator: add a contract class to the registry under its id."""
    if cls.contract_id in _REGISTRY and _REGISTRY[cls.contract_id] is not cls:
        raise ValueError(f"contract id {cls.contract_id} registered twice")
    _REGISTRY[cls.contract_id] = cls
    return cls


def get_contract(contract_id: str) -> Contract:
    try:
        return _REGISTRY[contract_id]()
    except KeyError:
        raise UnknownContract(f"no contract {contract_id}", contract=contract_id) from None


def registered_ids() -> list[str]:
    return sorted(_REGISTRY)


def contract_source(contract_id: str) -> bytes:
    """The definition of a contract: the exact bytes of its module file."""
    cls = _REGISTRY.get(contract_id)
    if cls is None:
        raise UnknownContract(f"no contract {contract_id}", contract=contract_id)
    module = sys.modules[cls.__module__]
    return Path(inspect.getfile(module)).read_bytes()


_SOURCE_HASHES: dict[str, str] = {}


def contract_source_sha256(contract_id: str) -> str:
    cached = _SOURCE_HASHES.get(contract_id)
    if cached is None:
        cached = _SOURCE_HASHES[contract_id] = hashlib.sha256(contract_source(contract_id)).hexdigest()
    return cached
