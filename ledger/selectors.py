"""Reads of the stored chain: blocks with certificates (for peers and observers), head, txs.

Block entries are assembled from the stored canonical JSON by concatenation, never
re-serialised, so what a peer receives is byte for byte what this node verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.core.encoding import encode

from . import models
from .errors import BlockNotFound

DEFAULT_DB = "default"
MAX_BLOCKS_PER_PAGE = 500
MAX_PAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoredHead:
    height: int
    hash: str | None
    time: int | None
    committed_at: datetime | None


def get_stored_head(*, using: str = DEFAULT_DB) -> StoredHead:
    row = models.Block.objects.using(using).order_by("-height").only("height", "hash", "time", "committed_at").first()
    if row is None:
        return StoredHead(0, None, None, None)
    return StoredHead(row.height, row.hash, row.time, row.committed_at)


def get_stored_genesis_text(*, using: str = DEFAULT_DB) -> str | None:
    row = models.NodeMeta.objects.using(using).filter(key=models.NodeMeta.GENESIS).first()
    return None if row is None else row.value


def render_block_entry(row: models.Block, tx_bodies: list[str]) -> bytes:
    """Canonical JSON ``{"block":{"header","txs"},"cert","committed_at","hash","height"}``."""
    committed_at = row.committed_at.isoformat().encode()
    return b"".join([
        b'{"block":{"header":', row.header.encode("utf-8"),
        b',"txs":[', ",".join(tx_bodies).encode("utf-8"), b"]}",
        b',"cert":', encode(row.certificate),
        b',"committed_at":"', committed_at, b'"',
        b',"hash":"', row.hash.encode(), b'"',
        b',"height":', str(row.height).encode(), b"}",
    ])


def get_block_entries(
    from_height: int, limit: int, *, max_bytes: int = MAX_PAGE_BYTES, using: str = DEFAULT_DB
) -> list[bytes]:
    """Up to ``limit`` consecutive blocks from ``from_height``, cut to about ``max_bytes``."""
    limit = max(1, min(limit, MAX_BLOCKS_PER_PAGE))
    rows = list(models.Block.objects.using(using).filter(height__gte=from_height).order_by("height")[:limit])
    if not rows:
        return []
    bodies: dict[int, list[str]] = {row.pk: [] for row in rows}
    for block_id, body in (
        models.Transaction.objects.using(using).filter(block_id__in=bodies).order_by("block_id", "index")
        .values_list("block_id", "body")
    ):
        bodies[block_id].append(body)
    entries: list[bytes] = []
    size = 0
    for row in rows:
        entry = render_block_entry(row, bodies[row.pk])
        if entries and size + len(entry) > max_bytes:
            break
        entries.append(entry)
        size += len(entry)
    return entries


def get_block_entry(height: int, *, using: str = DEFAULT_DB) -> bytes:
    row = models.Block.objects.using(using).filter(height=height).first()
    if row is None:
        raise BlockNotFound(detail={"height": height})
    bodies = list(row.transactions.using(using).order_by("index").values_list("body", flat=True))
    return render_block_entry(row, bodies)


@dataclass(frozen=True)
class StoredTx:
    tx_id: str
    height: int
    block_hash: str
    index: int


def get_stored_tx(tx_id: str, *, using: str = DEFAULT_DB) -> StoredTx | None:
    row = (
        models.Transaction.objects.using(using).filter(tx_id=tx_id)
        .values_list("block__height", "block__hash", "index").first()
    )
    if row is None:
        return None
    return StoredTx(tx_id, row[0], row[1], row[2])
