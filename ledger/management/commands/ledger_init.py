"""Store a genesis and the pinned contracts' sources in the database of DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.core.errors import LedgerError
from ledger.errors import LedgerServiceError
from ledger.services import ledger_init, read_genesis_file


class Command(BaseCommand):
    help = "Initialise this database for a chain: store the genesis and the contract sources (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--genesis", required=True, type=Path, help="genesis.json (canonical JSON)")
        parser.add_argument("--database", default="default", help="database alias (default: default)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            genesis = read_genesis_file(options["genesis"])
            result = ledger_init(genesis, using=options["database"])
        except (LedgerError, LedgerServiceError) as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.detail or ''}".strip()) from exc
        state = "initialised" if result.created else "already initialised with this genesis"
        self.stdout.write(f"{state}: chain {genesis.chain}, genesis {result.genesis_hash}")
        self.stdout.write(f"contracts stored: {', '.join(result.contracts) or '(none)'}")
