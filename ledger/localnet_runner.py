"""Preparing node databases and supervising the ``run_node`` child processes of a localnet.

Fresh databases are cloned from one migrated template (a file copy for SQLite,
``CREATE DATABASE ... TEMPLATE`` for PostgreSQL): migrating 31 databases one by one would
take a minute, cloning takes seconds. Existing databases are migrated only when they lack
a migration. Migrations always run in a child ``manage.py migrate`` with the node's
``DATABASE_URL``, exactly as an operator would run them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import dj_database_url
from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from .errors import NodeConfigInvalid
from .localnet import Localnet, LocalnetNode
from .services import ledger_init

SQLITE_FILE = "node.sqlite3"
TEMPLATE_NODE = "template"
STOP_GRACE_S = 15.0
Log = Callable[[str], None]


def database_url_for(node: LocalnetNode, template: str) -> str:
    if template:
        return template.format(node=node.node_id.replace("-", "_"))
    return f"sqlite:///{(node.home / SQLITE_FILE).resolve()}"


def _parse(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(dj_database_url.parse(url))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = dict(settings.SQLITE_OPTIONS)
        config["CONN_MAX_AGE"] = 0
    return config


def _is_sqlite(url: str) -> bool:
    return _parse(url)["ENGINE"] == "django.db.backends.sqlite3"


def _add_alias(alias: str, url: str) -> None:
    """Register a database alias at run time (ConnectionHandler fills in the defaults)."""
    connections.settings[alias] = connections.configure_settings({"default": _parse(url)})["default"]


def _remove_alias(alias: str) -> None:
    if alias in connections.settings:
        connections[alias].close()
        del connections.settings[alias]


def _run_migrate(url: str, log: Log) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "migrate", "--noinput", "-v", "0"]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise NodeConfigInvalid(f"migrate failed for {url}: {completed.stderr.strip()[-800:]}")


def _database_exists(url: str) -> bool:
    config = _parse(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return Path(config["NAME"]).exists()
    return _postgres_admin(config, "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]) is not None


def _postgres_admin(config: dict[str, Any], query: Any, params: list[Any] | None = None) -> Any:
    """Run one statement on the server's maintenance database (CREATE/DROP DATABASE need autocommit)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    settings_ = {"dbname": "postgres", "user": config.get("USER"), "password": config.get("PASSWORD"),
              "host": config.get("HOST"), "port": config.get("PORT")}
    conninfo = make_conninfo("", **{k: str(v) for k, v in settings_.items() if v})
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchone() if cursor.description is not None else None
    except psycopg.Error as exc:
        where = f"{config.get('HOST') or 'localhost'}:{config.get('PORT') or 5432}"
        raise NodeConfigInvalid(f"PostgreSQL at {where}: {str(exc).strip()}") from exc


def _clone(template_url: str, url: str) -> None:
    from psycopg import sql

    if _is_sqlite(url):
        target = Path(_parse(url)["NAME"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_parse(template_url)["NAME"], target)
        return
    config = _parse(url)
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(config["NAME"]), sql.Identifier(_parse(template_url)["NAME"]))
    _postgres_admin(config, statement)


def _needs_migrations(url: str) -> bool:
    alias = "localnet_check"
    _add_alias(alias, url)
    try:
        executor = MigrationExecutor(connections[alias])
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    finally:
        _remove_alias(alias)


def prepare_databases(localnet: Localnet, urls: dict[str, str], *, log: Log) -> None:
    """Create, migrate and initialise every node's own database (idempotent)."""
    missing = [node for node in localnet.nodes if not _database_exists(urls[node.node_id])]
    if missing:
        template_url = _template_url(localnet, urls)
        if _database_exists(template_url):
            _drop(template_url)
        log(f"migrating a template database for {len(missing)} new node databases")
        if not _is_sqlite(template_url):
            _create_postgres(template_url)
        _run_migrate(template_url, log)
        for node in missing:
            _clone(template_url, urls[node.node_id])
        _drop(template_url)
    for node in localnet.nodes:
        url = urls[node.node_id]
        if node not in missing and _needs_migrations(url):
            log(f"migrating the database of {node.node_id}")
            _run_migrate(url, log)
        alias = f"localnet_{node.node_id}"
        _add_alias(alias, url)
        try:
            ledger_init(localnet.genesis, using=alias)
        finally:
            _remove_alias(alias)


def _template_url(localnet: Localnet, urls: dict[str, str]) -> str:
    first = localnet.nodes[0]
    url = urls[first.node_id]
    if _is_sqlite(url):
        return f"sqlite:///{(localnet.directory / ('.template-' + SQLITE_FILE)).resolve()}"
    name = _parse(url)["NAME"]
    return url.rsplit("/", 1)[0] + "/" + name + "_" + TEMPLATE_NODE


def _create_postgres(url: str) -> None:
    from psycopg import sql

    config = _parse(url)
    _postgres_admin(config, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def _drop(url: str) -> None:
    config = _parse(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        for suffix in ("", "-wal", "-shm"):
            Path(str(config["NAME"]) + suffix).unlink(missing_ok=True)
        return
    from psycopg import sql

    _postgres_admin(config, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(config["NAME"])))


def terminate_with_parent() -> None:
    """In the child: get SIGTERM if the localnet process dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class LocalnetRunner:
    """Starts one ``run_node`` per node and stops them all on request (signal-safe flag)."""

    def __init__(self, localnet: Localnet, urls: dict[str, str], *, console_logs: bool, log: Log) -> None:
        self.localnet = localnet
        self.urls = urls
        self.console_logs = console_logs
        self.log = log
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._stopping = False
        self._reported: set[str] = set()

    def request_stop(self) -> None:
        self._stopping = True

    def start(self) -> None:
        manage = str(settings.BASE_DIR / "manage.py")
        for node in self.localnet.nodes:
            env = {**os.environ, "DATABASE_URL": self.urls[node.node_id], "PYTHONUNBUFFERED": "1"}
            output: IO[bytes] | None = None
            if not self.console_logs:
                output = open(node.home / "node.log", "ab")  # noqa: SIM115  (closed in wait())
                self._logs.append(output)
            self.children[node.node_id] = subprocess.Popen(
                [sys.executable, manage, "run_node", "--home", str(node.home)], env=env, cwd=settings.BASE_DIR,
                stdout=output, stderr=subprocess.STDOUT if output else None, start_new_session=True,
                preexec_fn=terminate_with_parent,  # noqa: PLW1509  (no threads run in this process yet)
            )

    def wait(self) -> int:
        """Block until a stop is requested (then stop all) or every child has exited."""
        try:
            while not self._stopping:
                time.sleep(0.2)
                for node_id, child in self.children.items():
                    code = child.poll()
                    if code is not None and node_id not in self._reported:
                        self._reported.add(node_id)
                        self.log(f"node {node_id} exited with code {code}; see {self._log_path(node_id)}")
                if len(self._reported) == len(self.children):
                    return 1
            return self.stop_all()
        finally:
            for handle in self._logs:
                handle.close()

    def stop_all(self) -> int:
        self.log(f"stopping {len(self.children)} nodes")
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for node_id, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"node {node_id} did not stop in {STOP_GRACE_S:.0f}s; killing it")
                child.kill()
                child.wait()
        return 0

    def _log_path(self, node_id: str) -> Path | str:
        return "the console" if self.console_logs else self.localnet.directory / node_id / "node.log"
