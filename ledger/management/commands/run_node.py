"""Run one ledger node (its database is DATABASE_URL, its identity the home directory)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from ledger.core.errors import LedgerError
from ledger.errors import LedgerServiceError
from ledger.node.config import load_node_home
from ledger.node.runtime import Node


class Command(BaseCommand):
    help = "Run a municipal ledger node from a home directory (node.json, genesis.json, node key)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--home", required=True, type=Path, help="node home directory")

    def handle(self, *args: Any, **options: Any) -> None:
        home: Path = options["home"].resolve()
        try:
            node_home = load_node_home(home)
        except LedgerServiceError as exc:
            raise CommandError(exc.message) from exc
        require_migrated()
        node = Node(node_home)
        config = node_home.config
        try:
            asyncio.run(self._serve(node))
        except (LedgerError, LedgerServiceError) as exc:
            raise CommandError(f"node {config.node_id} stopped: {exc.code}: {exc.message} {exc.detail}") from exc
        if node.fatal is not None:
            raise CommandError(f"node {config.node_id} stopped on a fatal error: {node.fatal!r}")

    async def _serve(self, node: Node) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, node.request_stop)

        def ready() -> None:
            self.stdout.write(f"node {node.node_id} ready at {node.config.public_url} (height {node.height})")
            self.stdout.flush()

        await node.run(on_ready=ready)


def require_migrated() -> None:
    """Refuse to start on a database without the ledger tables, with the command that fixes it."""
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    connections.close_all()  # the node opens its own connections in its database threads
    if plan:
        raise CommandError(
            f"the database {connection.settings_dict['NAME']} lacks {len(plan)} migrations; "
            "run `python manage.py migrate` with the same DATABASE_URL first"
        )
