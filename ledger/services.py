"""Writes to the node's database, and loading the stored chain into a ``Ledger``.

Everything here is synchronous Django ORM code. The node runtime calls it from its one
database thread; management commands call it directly. ``using`` selects a database
alias so one process can prepare several node databases (``localnet``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction as db_transaction
from django.utils import timezone

from ledger.core import contracts
from ledger.core.block import Block, BlockHeader, CommitCertificate
from ledger.core.consensus.interface import SignerState
from ledger.core.encoding import decode, encode
from ledger.core.errors import (
    ContractSourceMismatch,
    GenesisInvalid,
    LedgerError,
    UnknownContract,
)
from ledger.core.genesis import Genesis
from ledger.core.machine import Ledger
from ledger.core.tx import Transaction

from . import models
from .errors import GenesisMismatch, NodeNotInitialised, StoredChainCorrupt

DEFAULT_DB = "default"
TX_BATCH_SIZE = 500
REPLAY_CHUNK = 200


# --- genesis ------------------------------------------------------------------------------


def read_genesis_file(path: Path) -> Genesis:
    """Parse a genesis file: its canonical JSON, optionally followed by one newline."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GenesisInvalid(f"cannot read genesis file {path}: {exc.strerror}", path=str(path)) from exc
    if data.endswith(b"\n"):
        data = data[:-1]
    return Genesis.from_bytes(data)


def write_genesis_file(path: Path, genesis: Genesis) -> None:
    path.write_bytes(genesis.to_bytes() + b"\n")


@dataclass(frozen=True)
class InitResult:
    genesis_hash: str
    created: bool
    contracts: tuple[str, ...]


def ledger_init(genesis: Genesis, *, using: str = DEFAULT_DB) -> InitResult:
    """Store the genesis and the pinned contracts' sources; idempotent for the same genesis."""
    sources = _pinned_sources(genesis)
    genesis_hash = genesis.hash.hex()
    with db_transaction.atomic(using=using):
        stored = models.NodeMeta.objects.using(using).select_for_update().filter(key=models.NodeMeta.GENESIS_HASH).first()
        if stored is not None and stored.value != genesis_hash:
            raise GenesisMismatch(detail={"stored": stored.value, "given": genesis_hash})
        created = stored is None
        if created:
            models.NodeMeta.objects.using(using).bulk_create([
                models.NodeMeta(key=models.NodeMeta.GENESIS, value=genesis.to_bytes().decode("utf-8")),
                models.NodeMeta(key=models.NodeMeta.GENESIS_HASH, value=genesis_hash),
            ])
        known = set(models.ContractSource.objects.using(using).values_list("contract_id", "sha256"))
        models.ContractSource.objects.using(using).bulk_create([
            models.ContractSource(contract_id=cid, sha256=digest, source=text)
            for cid, digest, text in sources if (cid, digest) not in known
        ])
    return InitResult(genesis_hash, created, tuple(cid for cid, _, _ in sources))


def _pinned_sources(genesis: Genesis) -> list[tuple[str, str, str]]:
    """(id, sha256, source) of every pinned contract; refuse code that differs from the pin."""
    result = []
    registered = set(contracts.registered_ids())
    for pin in genesis.contracts:
        if pin.id not in registered:
            raise UnknownContract(f"genesis pins contract {pin.id}, which this node does not have", contract=pin.id)
        digest = contracts.contract_source_sha256(pin.id)
        if digest != pin.source_sha256:
            raise ContractSourceMismatch(
                f"this node's source of contract {pin.id} differs from the genesis pin",
                contract=pin.id, pinned=pin.source_sha256, local=digest,
            )
        result.append((pin.id, digest, contracts.contract_source(pin.id).decode("utf-8")))
    return result


def get_stored_genesis(*, using: str = DEFAULT_DB) -> Genesis:
    row = models.NodeMeta.objects.using(using).filter(key=models.NodeMeta.GENESIS).first()
    if row is None:
        raise NodeNotInitialised()
    return Genesis.from_bytes(row.value.encode("utf-8"))


# --- blocks -----------------------------------------------------------------------------------


def election_of(tx: Transaction) -> str:
    value = tx.payload.get("election")
    return value if isinstance(value, str) else ""


def persist_block(
    block: Block, cert: CommitCertificate, *, committed_at: datetime | None = None, using: str = DEFAULT_DB
) -> models.Block:
    """Store one committed block and its transactions in a single database transaction."""
    header = block.header
    with db_transaction.atomic(using=using):
        row = models.Block(
            height=header.height, hash=header.hash.hex(), prev=header.prev.hex(), time=header.time,
            proposer=header.proposer, round=header.round, tx_count=header.txs, tx_root=header.tx_root.hex(),
            state_root=header.state_root.hex(), header=encode(header.to_dict()).decode("utf-8"),
            certificate=cert.to_dict(), committed_at=committed_at or timezone.now(),
        )
        row.save(using=using)
        models.Transaction.objects.using(using).bulk_create(
            [
                models.Transaction(
                    tx_id=tx.id_hex, block=row, index=index, contract=tx.contract, type=tx.type,
                    election=election_of(tx), sender=tx.sender, body=tx.to_bytes().decode("utf-8"),
                )
                for index, tx in enumerate(block.txs)
            ],
            batch_size=TX_BATCH_SIZE,
        )
    return row


@dataclass(frozen=True)
class StoredBlock:
    """A block as read back from the database, with its certificate and storage facts."""

    block: Block
    cert: CommitCertificate
    stored_hash: str
    committed_at: datetime


def iter_stored_blocks(*, from_height: int = 1, using: str = DEFAULT_DB, chunk: int = REPLAY_CHUNK) -> Iterator[StoredBlock]:
    """Stream stored blocks in height order, two queries per chunk (blocks, then their txs)."""
    next_height = from_height
    while True:
        rows = list(
            models.Block.objects.using(using).filter(height__gte=next_height).order_by("height")[:chunk]
        )
        if not rows:
            return
        bodies: dict[int, list[str]] = {row.pk: [] for row in rows}
        for block_id, body in (
            models.Transaction.objects.using(using).filter(block_id__in=bodies).order_by("block_id", "index")
            .values_list("block_id", "body")
        ):
            bodies[block_id].append(body)
        for row in rows:
            yield _decode_row(row, bodies[row.pk])
        next_height = rows[-1].height + 1


def _decode_row(row: models.Block, bodies: list[str]) -> StoredBlock:
    try:
        header = BlockHeader.from_dict(decode(row.header.encode("utf-8")))
        txs = tuple(Transaction.from_bytes(body.encode("utf-8")) for body in bodies)
        cert = CommitCertificate.from_dict(row.certificate)
    except LedgerError as exc:
        raise StoredChainCorrupt(
            f"stored block {row.height} does not decode: {exc.message}", detail={"height": row.height, "reason": exc.code}
        ) from exc
    return StoredBlock(Block(header, txs), cert, row.hash, row.committed_at)


def load_ledger(
    genesis: Genesis,
    *,
    using: str = DEFAULT_DB,
    on_block: Callable[[StoredBlock], None] | None = None,
) -> Ledger:
    """Replay the stored chain into a fresh in-memory ledger.

    Fast path: blocks were fully verified (signatures, certificate) before they were stored,
    so replay skips signature checks, but it still checks the hash chain, the stored hashes,
    Merkle roots and state roots by re-executing, so a tampered or truncated database is
    refused instead of silently diverging from the network.
    """
    ledger = Ledger(genesis)
    for stored in iter_stored_blocks(using=using):
        block = stored.block
        height = block.header.height
        if stored.stored_hash != block.hash.hex():
            raise StoredChainCorrupt(
                f"stored hash of block {height} does not match its header", detail={"height": height, "field": "hash"}
            )
        if height != ledger.height + 1:
            raise StoredChainCorrupt(
                f"stored chain has a gap before height {height}", detail={"height": height, "field": "height"}
            )
        try:
            ledger.apply_block(block, verified=frozenset((tx.id, tx.sig) for tx in block.txs))
        except LedgerError as exc:
            raise StoredChainCorrupt(
                f"stored block {height} does not replay: {exc.message}",
                detail={"height": height, "reason": exc.code, **_jsonable(exc.detail)},
            ) from exc
        if on_block is not None:
            on_block(stored)
    return ledger


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {key: value if isinstance(value, (str, int, type(None))) else str(value) for key, value in detail.items()}


# --- signer state -----------------------------------------------------------------------------


def load_signer_state(*, using: str = DEFAULT_DB) -> SignerState | None:
    row = models.NodeMeta.objects.using(using).filter(key=models.NodeMeta.SIGNER_STATE).first()
    if row is None:
        return None
    return SignerState.from_dict(json.loads(row.value))  # includes the lock, so a restart keeps it


def save_signer_state(state: SignerState, *, using: str = DEFAULT_DB) -> None:
    """Durably record the last signed step (committed before the vote is sent)."""
    with db_transaction.atomic(using=using):
        models.NodeMeta.objects.using(using).update_or_create(
            key=models.NodeMeta.SIGNER_STATE, defaults={"value": json.dumps(state.to_dict(), sort_keys=True)}
        )
