"""Run a local network: N run_node processes, each with its own database, key and port."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.core.errors import LedgerError
from ledger.errors import LedgerServiceError
from ledger.localnet import (
    DEFAULT_BASE_PORT,
    DEFAULT_CHAIN,
    LOCALNET_FILE,
    create_localnet,
    load_localnet,
)
from ledger.localnet_runner import LocalnetRunner, database_url_for, prepare_databases


class Command(BaseCommand):
    help = "Start N municipal nodes as child processes (creating their homes and databases if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--nodes", type=int, default=4, help="number of nodes (1 to 31)")
        parser.add_argument("--dir", type=Path, default=Path("var/localnet"), help="localnet directory")
        parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
        parser.add_argument("--chain", default=DEFAULT_CHAIN)
        parser.add_argument("--authority-key", type=Path, default=None)
        parser.add_argument("--database-url-template", default="",
                            help="e.g. postgres://postgres@127.0.0.1:5432/evote_{node}; default: SQLite per node")
        parser.add_argument("--console-logs", action="store_true", help="nodes log to this terminal, not node.log")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["dir"].resolve()
        template: str = options["database_url_template"]
        if template and "{node}" not in template:
            raise CommandError("--database-url-template must contain {node}")
        try:
            if (directory / LOCALNET_FILE).exists():
                localnet = load_localnet(directory)
                if len(localnet.nodes) != options["nodes"]:
                    raise CommandError(f"{directory} holds {len(localnet.nodes)} nodes, not {options['nodes']}; "
                                       "use another --dir for another size")
            else:
                localnet = create_localnet(directory, nodes=options["nodes"], base_port=options["base_port"],
                                           chain=options["chain"], authority_key_path=options["authority_key"])
                self.stdout.write(f"created {len(localnet.nodes)} node homes in {directory}")
            urls = {node.node_id: database_url_for(node, template) for node in localnet.nodes}
            prepare_databases(localnet, urls, log=self._log)
        except (LedgerError, LedgerServiceError) as exc:
            raise CommandError(exc.message) from exc
        runner = LocalnetRunner(localnet, urls, console_logs=options["console_logs"], log=self._log)
        stop = runner.request_stop
        signal.signal(signal.SIGINT, lambda *_: stop())
        signal.signal(signal.SIGTERM, lambda *_: stop())
        runner.start()
        self.stdout.write(f"{len(localnet.nodes)} nodes of chain {localnet.chain} (genesis "
                          f"{localnet.genesis.hash.hex()[:16]}...):")
        for node in localnet.nodes:
            self.stdout.write(f"  {node.node_id:<14} {node.url}  db {urls[node.node_id]}")
        self.stdout.write(f"election-commission key: {localnet.authority_key_path}")
        self.stdout.write("web app: LEDGER_NODE_URLS=" + ",".join(n.url for n in localnet.nodes))
        self.stdout.write("Ctrl-C stops every node.")
        self.stdout.flush()
        code = runner.wait()
        self.stdout.write("all nodes stopped")
        if code:
            sys.exit(code)

    def _log(self, message: str) -> None:
        self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {message}")
        self.stdout.flush()
