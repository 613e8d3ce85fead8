"""Writing evote-bundle v1 files (docs/audit-bundle.md): everything an observer needs, in one stream.

One writer serves the ``export_bundle`` command, the node's ``GET /v1/bundle`` and the
tests and benchmark: gzip-compressed JSON Lines, every line canonical JSON. Blocks are
assembled from the bytes the node stored (canonical header text, transaction bodies) by
concatenation, never re-serialised, so a stored byte that was changed reaches the verifier
as it is and is reported where it stands.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO

from ledger.core.encoding import encode

FORMAT = "evote-bundle"
VERSION = 1
CONTENT_TYPE = "application/gzip"


@dataclass(frozen=True)
class BundleBlock:
    """One block as stored: header text, its stored hash, transactions (id, index, body text), certificate."""

    height: int
    hash: str
    header: str
    txs: list[tuple[str, int, str]]
    certificate: dict[str, Any]


@dataclass
class BundleContent:
    """The parts of a bundle; ``blocks`` may be a lazy iterator (streamed from the database)."""

    genesis: str
    head_height: int
    head_hash: str | None
    contracts: list[tuple[str, str, str]]  # (id, sha256, exact source text)
    blocks: Iterable[BundleBlock]
    metadata: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    exporter: str = ""
    created_at: str = ""


def block_lines(block: BundleBlock) -> Iterator[bytes]:
    """The block line, its transaction lines and its certificate line (without newlines)."""
    height = str(block.height).encode()
    yield b"".join([b'{"hash":"', block.hash.encode(), b'","header":', block.header.encode("utf-8"),
                    b',"height":', height, b',"t":"block"}'])
    for tx_id, index, body in block.txs:
        yield b"".join([b'{"height":', height, b',"id":"', tx_id.encode(), b'","index":', str(index).encode(),
                        b',"t":"tx","tx":', body.encode("utf-8"), b"}"])
    yield b"".join([b'{"certificate":', encode(block.certificate), b',"height":', height, b',"t":"cert"}'])


class BundleStream:
    """Turns bundle parts into lines, keeping the running digest and counts the trailer needs.

    Used whole by ``bundle_lines`` and piece by piece by the node's streamed ``/v1/bundle``.
    """

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.lines = self.blocks = self.txs = 0

    def _emit(self, line: bytes) -> bytes:
        self.lines += 1
        line += b"\n"
        self.digest.update(line)
        return line

    def prologue(self, content: BundleContent) -> list[bytes]:
        """Header, genesis and contract source lines."""
        header = {"t": "header", "format": FORMAT, "version": VERSION, "chain": _chain_of(content.genesis),
                  "genesis_hash": hashlib.sha256(content.genesis.encode("utf-8")).hexdigest(),
                  "head_height": content.head_height, "head_hash": content.head_hash,
                  "created_at": content.created_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "exporter": content.exporter or "ledger.bundle"}
        lines = [self._emit(encode(header)),
                 self._emit(b'{"genesis":' + content.genesis.encode("utf-8") + b',"t":"genesis"}')]
        for contract_id, sha256, source in content.contracts:
            lines.append(self._emit(encode({"t": "contract", "id": contract_id, "sha256": sha256, "source": source})))
        return lines

    def counted(self, data: bytes, *, lines: int, blocks: int, txs: int) -> bytes:
        """Block lines already written elsewhere (by another stream), taken into the counts and digest."""
        self.digest.update(data)
        self.lines += lines
        self.blocks += blocks
        self.txs += txs
        return data

    def block(self, block: BundleBlock) -> list[bytes]:
        self.blocks += 1
        self.txs += len(block.txs)
        return [self._emit(line) for line in block_lines(block)]

    def epilogue(self, metadata: Iterable[dict[str, Any]], results: Iterable[dict[str, Any]]) -> list[bytes]:
        """Metadata and result lines, then the trailer (its digest covers every line before it)."""
        lines = [self._emit(encode({**record, "t": "metadata"})) for record in metadata]
        lines += [self._emit(encode({**record, "t": "result"})) for record in results]
        trailer = {"t": "trailer", "lines": self.lines, "blocks": self.blocks, "txs": self.txs,
                   "sha256": self.digest.hexdigest()}
        return [*lines, encode(trailer) + b"\n"]


def bundle_lines(content: BundleContent) -> Iterator[bytes]:
    """Every line of the bundle, the trailer last."""
    stream = BundleStream()
    yield from stream.prologue(content)
    for block in content.blocks:
        yield from stream.block(block)
    yield from stream.epilogue(content.metadata, content.results)


def extended_lines(lines: Iterable[bytes], metadata: list[dict[str, Any]], results: list[dict[str, Any]]) -> Iterator[bytes]:
    """A bundle's lines with metadata and results added before a recomputed trailer.

    For a bundle downloaded from a node (which has no off-chain data): its lines pass through
    unchanged, so the verifier still checks every block byte the node served.
    """
    stream = BundleStream()
    for line in lines:
        if line.startswith(b'{') and b'"t":"trailer"' in line and line.rstrip(b"\n").endswith(b"}"):
            from ledger.core.encoding import decode  # noqa: PLC0415

            old = decode(line.rstrip(b"\n"))
            stream.blocks, stream.txs = int(old.get("blocks", 0)), int(old.get("txs", 0))
            break
        stream.lines += 1
        stream.digest.update(line)
        yield line
    yield from stream.epilogue(metadata, results)


def genesis_hash(genesis_text: str) -> str:
    return hashlib.sha256(genesis_text.encode("utf-8")).hexdigest()


def _chain_of(genesis_text: str) -> str:
    from ledger.core.encoding import decode  # noqa: PLC0415 - tiny, only here

    value = decode(genesis_text.encode("utf-8"))
    return str(value.get("chain", "")) if isinstance(value, dict) else ""


def write_bundle(content: BundleContent, out: BinaryIO, *, level: int = 6) -> None:
    """Write a compressed bundle to a binary stream."""
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as stream:
        pending: list[bytes] = []
        size = 0
        for line in bundle_lines(content):
            pending.append(line)
            size += len(line)
            if size >= 1 << 20:
                stream.write(b"".join(pending))
                pending, size = [], 0
        stream.write(b"".join(pending))


class Compressor:
    """Incremental gzip of bundle lines (the node streams a bundle without holding it)."""

    def __init__(self, level: int = 6) -> None:
        import zlib  # noqa: PLC0415

        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)

    def compress(self, lines: Iterable[bytes]) -> bytes:
        return self._compressor.compress(b"".join(lines))

    def flush(self) -> bytes:
        return self._compressor.flush()


# --- sources of content -------------------------------------------------------------------------------


def core_blocks(chain: Iterable[tuple[Any, Any]]) -> Iterator[BundleBlock]:
    """Blocks of ``ledger.core`` (Block, CommitCertificate) pairs, for tests and benchmarks."""
    for block, cert in chain:
        header = block.header
        yield BundleBlock(height=header.height, hash=header.hash.hex(), header=encode(header.to_dict()).decode("utf-8"),
                          txs=[(tx.id_hex, index, tx.to_bytes().decode("utf-8")) for index, tx in enumerate(block.txs)],
                          certificate=cert.to_dict())


def core_contracts(genesis: Any) -> list[tuple[str, str, str]]:
    """(id, sha256, source) of every contract the genesis pins, from this node's own code."""
    from ledger.core.contracts import contract_source  # noqa: PLC0415

    result = []
    for pin in genesis.contracts:
        source = contract_source(pin.id)
        result.append((pin.id, hashlib.sha256(source).hexdigest(), source.decode("utf-8")))
    return result


def core_content(genesis: Any, chain: list[tuple[Any, Any]], **extra: Any) -> BundleContent:
    """A bundle of an in-memory chain (``ledger.core`` objects)."""
    head = chain[-1][0].header if chain else None
    return BundleContent(genesis=genesis.to_bytes().decode("utf-8"), head_height=head.height if head else 0,
                         head_hash=head.hash.hex() if head else None, contracts=core_contracts(genesis),
                         blocks=core_blocks(chain), **extra)


def stored_content(*, using: str = "default", upto: int | None = None, **extra: Any) -> BundleContent:
    """A bundle of the chain stored in a node database, up to its head when the export starts."""
    genesis, height, head_hash, contracts = stored_prologue(using=using, upto=upto)
    return BundleContent(genesis=genesis, head_height=height, head_hash=head_hash, contracts=contracts,
                         blocks=stored_blocks(height, using=using), **extra)


def stored_prologue(*, using: str = "default", upto: int | None = None) -> tuple[str, int, str | None, list[tuple[str, str, str]]]:
    """(genesis text, head height, head hash, contract sources) of a node database."""
    from ledger.core.encoding import decode  # noqa: PLC0415

    from . import models  # noqa: PLC0415 - the pure writer above must not need Django
    from .errors import NodeNotInitialised  # noqa: PLC0415

    genesis_row = models.NodeMeta.objects.using(using).filter(key=models.NodeMeta.GENESIS).first()
    if genesis_row is None:
        raise NodeNotInitialised()
    heads = models.Block.objects.using(using).order_by("-height")
    if upto is not None:
        heads = heads.filter(height__lte=upto)
    head = heads.only("height", "hash").first()
    pins = decode(genesis_row.value.encode("utf-8")).get("contracts", [])
    sources = {(row.contract_id, row.sha256): row.source for row in models.ContractSource.objects.using(using)}
    contracts = [(pin["id"], pin["source_sha256"], sources[(pin["id"], pin["source_sha256"])])
                 for pin in pins if (pin["id"], pin["source_sha256"]) in sources]
    return genesis_row.value, head.height if head else 0, head.hash if head else None, contracts


def stored_block_page(from_height: int, upto: int, *, using: str = "default", chunk: int = 50) -> list[BundleBlock]:
    """Stored blocks from ``from_height`` to at most ``upto``, two queries.

    Follows the rows as they are (the node's own order: height, then index): a missing,
    extra or changed row is exported as it stands so the verifier reports it at its place.
    """
    from . import models  # noqa: PLC0415

    rows = list(models.Block.objects.using(using).filter(height__gte=from_height, height__lte=upto)
                .order_by("height")[:chunk])
    bodies: dict[int, list[tuple[str, int, str]]] = {row.pk: [] for row in rows}
    for block_id, tx_id, index, body in (
        models.Transaction.objects.using(using).filter(block_id__in=bodies).order_by("block_id", "index", "pk")
        .values_list("block_id", "tx_id", "index", "body")
    ):
        bodies[block_id].append((tx_id, index, body))
    return [BundleBlock(height=row.height, hash=row.hash, header=row.header, txs=bodies[row.pk],
                        certificate=row.certificate) for row in rows]


def stored_blocks(upto: int, *, using: str = "default") -> Iterator[BundleBlock]:
    """Stored blocks 1..upto, streamed page by page."""
    next_height = 1
    while next_height <= upto:
        page = stored_block_page(next_height, upto, using=using)
        if not page:
            return
        yield from page
        next_height = page[-1].height + 1
