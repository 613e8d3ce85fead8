"""Verify the stored chain from genesis: every signature, certificate, root and transaction."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.core.block import Block, CommitCertificate
from ledger.core.verify import verify_chain
from ledger.errors import LedgerServiceError, StoredChainCorrupt
from ledger.selectors import get_stored_head
from ledger.services import get_stored_genesis, iter_stored_blocks


class Progress:
    """A progress line on stderr: redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, total: int, stream: Any) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_decile = -1
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, height: int) -> None:
        now = time.monotonic()
        fraction = min(height / self.total, 1.0)
        if self.tty:
            if now - self.last_draw < 0.2 and height < self.total:
                return
            self.last_draw = now
            bar = "#" * int(fraction * 30)
            rate = height / max(now - self.started, 1e-9)
            self.stream.write(f"\r[{bar:<30}] {height}/{self.total} blocks {rate:,.0f}/s")
            self.stream.flush()
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(f"verified {height}/{self.total} blocks ({fraction:.0%})\n")

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Verify the chain in this node's database from its genesis; exit code 0 only if it all checks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--impl", choices=["openssl", "ecdsa"], default="openssl",
                            help="signature implementation: OpenSSL, or the pure-Python ecdsa package")
        parser.add_argument("--database", default="default", help="database alias")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        try:
            genesis = get_stored_genesis(using=using)
        except LedgerServiceError as exc:
            raise CommandError(exc.message) from exc
        head = get_stored_head(using=using)
        progress = None if options["no_progress"] else Progress(head.height, sys.stderr)
        problem: list[StoredChainCorrupt] = []
        started = time.monotonic()
        report = verify_chain(genesis, _items(using, problem), impl=options["impl"], progress=progress)
        if progress is not None:
            progress.done()
        elapsed = time.monotonic() - started
        data = report.to_dict()
        if problem and report.ok:
            corrupt = problem[0]
            data["ok"] = False
            data["failure"] = {"height": corrupt.detail.get("height"), "code": corrupt.code,
                               "message": corrupt.message, "field": corrupt.detail.get("field"),
                               "tx_index": None, "tx": None}
        data.update(genesis_hash=genesis.hash.hex(), chain=genesis.chain, stored_height=head.height,
                    seconds=round(elapsed, 3), impl=options["impl"])
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self._print(data, report)
        if not data["ok"]:
            raise CommandError("verification FAILED", returncode=1)

    def _print(self, data: dict[str, Any], report: Any) -> None:
        self.stdout.write(f"chain {data['chain']}  genesis {data['genesis_hash']}")
        if data["ok"]:
            self.stdout.write(self.style.SUCCESS(
                f"OK: {data['height']} blocks, {data['txs']} transactions verified in {data['seconds']}s "
                f"({data['impl']}); head {data['head']}"))
            for election, tally in sorted(data["tallies"].items()):
                self.stdout.write(f"  {election}: {json.dumps(tally['candidates'], ensure_ascii=False)}")
            return
        failure = data["failure"]
        where = report.failure.describe() if report.failure is not None else (
            f"height {failure['height']}, field {failure['field']}: {failure['code']}: {failure['message']}")
        self.stdout.write(self.style.ERROR(f"FAILED at {where}"))
        self.stdout.write(f"last verified height: {data['height']} of {data['stored_height']} stored")


def _items(using: str, problem: list[StoredChainCorrupt]) -> Iterator[tuple[Block, CommitCertificate]]:
    """Stored blocks as (block, certificate); a row that does not decode or match stops the stream."""
    try:
        for stored in iter_stored_blocks(using=using):
            if stored.stored_hash != stored.block.hash.hex():
                height = stored.block.height
                problem.append(StoredChainCorrupt(
                    f"the stored hash column of block {height} differs from the hash of its stored header",
                    detail={"height": height, "field": "hash"}))
                return
            yield stored.block, stored.cert
    except StoredChainCorrupt as exc:
        problem.append(exc)
