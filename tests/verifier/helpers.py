"""Bundles of the vector chains and of ``ledger.core`` chains, for the verifier tests."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

from ledger.bundle import BundleBlock, BundleContent, bundle_lines, write_bundle
from ledger.core.encoding import encode
from verifier.engine import Report, verify_bundle

VECTORS = Path(__file__).resolve().parent.parent / "ledger" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def vector_block(block: dict[str, Any], certificate: dict[str, Any]) -> BundleBlock:
    """A bundle block from a vector block object (ids computed by the writer's side, ledger.core)."""
    from ledger.core.tx import Transaction  # noqa: PLC0415

    header = block["header"]
    txs = [(Transaction.from_dict(tx).id_hex, index, encode(tx).decode()) for index, tx in enumerate(block["txs"])]
    return BundleBlock(header["height"], _hash(header), encode(header).decode(), txs, certificate)


def _hash(header: dict[str, Any]) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(encode(header)).hexdigest()


def vector_content(genesis: dict[str, Any], blocks: list[BundleBlock], **extra: Any) -> BundleContent:
    head = blocks[-1] if blocks else None
    return BundleContent(genesis=encode(genesis).decode(), head_height=head.height if head else 0,
                         head_hash=head.hash if head else None, contracts=[], blocks=blocks, **extra)


def chain_blocks(name: str = "chain") -> tuple[dict[str, Any], list[BundleBlock]]:
    data = load(name)
    items = data["blocks"]
    return data["genesis"], [vector_block(b["block"], b["certificate"]) for b in items]


def bundle_bytes(content: BundleContent) -> bytes:
    out = io.BytesIO()
    write_bundle(content, out)
    return out.getvalue()


def plain_lines(content: BundleContent) -> list[bytes]:
    """The uncompressed lines (with newlines) of a bundle."""
    return list(bundle_lines(content))


def compress(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(lines), mtime=0)


def verify_bytes(data: bytes, **options: Any) -> Report:
    return verify_bundle(io.BytesIO(data), **options)


def finished_election(tokens: int = 12, *, vote_blocks: int = 3) -> tuple[Any, list[tuple[Any, Any]], dict[str, Any]]:
    """A closed election on an in-process ledger: (genesis, [(block, cert)], tally from ledger.core)."""
    from tests.ledger.core.factory import checkin_id, open_election_chain  # noqa: PLC0415

    builder, election, keys = open_election_chain(tokens=tokens, stations=("st-1", "st-2"))
    voters = list(enumerate(keys))
    share = -(-len(voters) // vote_blocks)
    for start in range(0, len(voters), share):
        group = voters[start:start + share]
        checkins = [election.checkin(f"st-{i % 2 + 1}", checkin_id(f"voter-{i}")) for i, _ in group]
        # The last voter of each group votes without a check-in: the reconciliation must warn.
        if start + share >= len(voters):
            checkins = checkins[:-1]
        votes = [election.transfer(key, election.candidates[i % 3]) for i, key in group]
        builder.seal([*checkins, *votes])
    builder.seal([election.close()])
    tally = builder.ledger.query("vote", "tally", {"election": election.id})
    return builder.network.genesis, builder.blocks, tally


def election_content(genesis: Any, chain: list[tuple[Any, Any]], tally: dict[str, Any]) -> BundleContent:
    from ledger.bundle import core_content  # noqa: PLC0415

    metadata = [{"election": tally["election"], "title": "Mayor of Testville",
                 "stations": {"st-1": {"name": "Station one", "region": "North"},
                              "st-2": {"name": "Station two", "region": "South"}}}]
    results = [{"election": tally["election"], "result": tally, "taken_at": "2026-01-01T12:00:00+00:00"}]
    return core_content(genesis, chain, metadata=metadata, results=results, exporter="tests",
                        created_at="2026-01-01T12:00:00+00:00")


def core_content_of(builder: Any) -> BundleContent:
    """A bundle of a ``ChainBuilder``'s blocks (no off-chain data)."""
    from ledger.bundle import core_content  # noqa: PLC0415

    return core_content(builder.network.genesis, builder.blocks, exporter="tests", created_at="2026-01-01T00:00:00Z")
