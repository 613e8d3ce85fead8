"""Create node homes, keys and a shared genesis for a local network of Gyeonggi municipalities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.core.errors import LedgerError
from ledger.errors import LedgerServiceError
from ledger.localnet import DEFAULT_BASE_PORT, DEFAULT_CHAIN, create_localnet


class Command(BaseCommand):
    help = "Generate N node homes (first N Gyeonggi municipalities), their keys and one genesis."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--nodes", type=int, default=4, help="number of nodes, 1 to 31 (default 4)")
        parser.add_argument("--dir", type=Path, default=Path("var/localnet"), help="output directory")
        parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT, help="port of the first node")
        parser.add_argument("--chain", default=DEFAULT_CHAIN, help="chain id")
        parser.add_argument("--host", default="127.0.0.1", help="address the nodes listen on")
        parser.add_argument("--authority-key", type=Path, default=None,
                            help="existing election-commission key (PEM); generated into DIR if omitted")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            localnet = create_localnet(
                options["dir"].resolve(), nodes=options["nodes"], base_port=options["base_port"],
                chain=options["chain"], host=options["host"], authority_key_path=options["authority_key"],
            )
        except (LedgerError, LedgerServiceError) as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"chain {localnet.chain}, genesis {localnet.genesis.hash.hex()}")
        self.stdout.write(f"election-commission key: {localnet.authority_key_path}")
        for node in localnet.nodes:
            self.stdout.write(f"  {node.node_id:<14} {node.name:<8} {node.url}  {node.home}")
        self.stdout.write(f"start them with: python manage.py localnet --nodes {len(localnet.nodes)} "
                          f"--dir {localnet.directory}")
