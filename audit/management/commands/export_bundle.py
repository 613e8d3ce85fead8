"""Export an audit bundle (docs/audit-bundle.md) from a node database or a running node."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.management.offchain import offchain_records
from ledger import bundle
from ledger.errors import LedgerServiceError


class Command(BaseCommand):
    help = ("Write an evote-bundle v1 file: genesis, contract sources, every block with its certificate, "
            "and (from the officials' database) station names and published results. "
            "Check it with `python -m verifier FILE`.")

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--home", type=Path, help="a node home: export that node's database (its DATABASE_URL)")
        source.add_argument("--node-url", help="a running node: download its GET /v1/bundle")
        parser.add_argument("-o", "--output", type=Path, required=True, help="the bundle file to write (.jsonl.gz)")
        parser.add_argument("--database", default="default", help="database alias of the node's chain (--home)")
        parser.add_argument("--upto", type=int, default=None, help="export blocks up to this height only")
        parser.add_argument("--no-offchain", action="store_true",
                            help="leave out station metadata and published results")
        parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for --node-url")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        metadata, results = ([], []) if options["no_offchain"] else offchain_records()
        partial = Path(tempfile.mkstemp(prefix=output.name, suffix=".part", dir=output.parent or Path("."))[1])
        try:
            if options["home"] is not None:
                self._from_database(options, partial, metadata, results)
            else:
                self._from_node(options, partial, metadata, results)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
        self.stdout.write(f"wrote {output} ({output.stat().st_size} bytes; {len(results)} published result(s))")

    def _from_database(self, options: dict[str, Any], target: Path, metadata: list[Any], results: list[Any]) -> None:
        from ledger.node.config import load_node_home  # noqa: PLC0415

        try:
            home = load_node_home(options["home"].resolve())
            content = bundle.stored_content(using=options["database"], upto=options["upto"],
                                            metadata=metadata, results=results,
                                            exporter=f"export_bundle --home ({home.config.node_id})")
        except LedgerServiceError as exc:
            raise CommandError(exc.message) from exc
        stored_hash = bundle.genesis_hash(content.genesis)
        if stored_hash != home.genesis.hash.hex():
            raise CommandError(f"the database's genesis {stored_hash} is not the home's {home.genesis.hash.hex()}; "
                               "run with the node's DATABASE_URL")
        with target.open("wb") as out:
            bundle.write_bundle(content, out)

    def _from_node(self, options: dict[str, Any], target: Path, metadata: list[Any], results: list[Any]) -> None:
        url = options["node_url"].rstrip("/") + "/v1/bundle"
        if options["upto"] is not None:
            url += f"?upto={options['upto']}"
        downloaded = target.with_suffix(".download")
        try:
            with urllib.request.urlopen(url, timeout=options["timeout"]) as response, \
                    downloaded.open("wb") as out:  # noqa: S310 - the operator's own node URL
                shutil.copyfileobj(response, out, 1 << 20)
            if not metadata and not results:
                os.replace(downloaded, target)
                return
            with gzip.open(downloaded, "rb") as lines, target.open("wb") as raw, \
                    gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as stream:
                for line in bundle.extended_lines(lines, metadata, results):
                    stream.write(line)
        except (urllib.error.URLError, OSError, EOFError) as exc:
            raise CommandError(f"cannot export from {url}: {exc}") from exc
        finally:
            downloaded.unlink(missing_ok=True)
