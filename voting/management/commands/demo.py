"""Start the complete local demo in one command: municipal ledger nodes, the demo election and the web app.

Layout of ``--dir`` (default ``var/``, the paths the default settings expect)::

    DIR/localnet/      node homes, keys, genesis, authority.pem, one SQLite file and node.log per node
    DIR/web.sqlite3    the web app's database
    DIR/demo/          cards-<station>.pdf (token keys, demo only), kiosk credential, summary.json, web.log

The nodes are supervised by ``ledger.localnet_runner.LocalnetRunner`` (as ``manage.py localnet``
does). The web database is migrated and seeded by child ``manage.py`` processes and the web app
runs under uvicorn, all with the same environment (``DATABASE_URL``, ``LEDGER_NODE_URLS``,
``LEDGER_AUTHORITY_KEY_FILE``), exactly as an operator would configure them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.core.errors import LedgerError
from ledger.errors import LedgerServiceError
from ledger.localnet import DEFAULT_BASE_PORT, LOCALNET_FILE, Localnet, create_localnet, load_localnet
from ledger.localnet_runner import LocalnetRunner, terminate_with_parent, database_url_for, prepare_databases
from voting.demo import LOGINS

HOST = "127.0.0.1"
NODES_READY_TIMEOUT_S = 90.0
WEB_READY_TIMEOUT_S = 60.0
WEB_STOP_GRACE_S = 10.0
CHILD_STOP_GRACE_S = 10.0


class DemoFailed(Exception):
    """A failure with a message for the user (no traceback)."""


class DemoInterrupted(Exception):
    """Ctrl-C or SIGTERM while the demo was still starting."""


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def shown(path: Path) -> str:
    """A path as the user would type it: relative when inside the project."""
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def is_port_free(port: int) -> bool:
    """True if nothing listens on HOST:port (SO_REUSEADDR, like the servers, so TIME_WAIT does not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def stop_child_gently(child: subprocess.Popen[str]) -> None:
    """SIGINT first, so the child rolls back what it started (e.g. a token batch); then kill its whole group."""
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=CHILD_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def fetch_json(url: str, timeout_s: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.loads(response.read())


class Command(BaseCommand):
    help = ("Start the local demo: N municipal ledger nodes, a seeded demo election with votes, and the web app. "
            "Ctrl-C stops everything; running it again reuses the state in --dir.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--nodes", type=int, default=4, help="number of ledger nodes (1 to 31, default 4)")
        parser.add_argument("--port", type=int, default=8000, help="web app port on 127.0.0.1 (default 8000)")
        parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT,
                            help=f"port of the first node (default {DEFAULT_BASE_PORT}) for new nodes")
        parser.add_argument("--dir", type=Path, default=Path("var"),
                            help="state directory (default var/, relative to the project)")
        parser.add_argument("--reset", action="store_true",
                            help="delete the demo state in --dir first (nodes, chain, web database, cards)")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["dir"]
        self.dir = (directory if directory.is_absolute() else settings.BASE_DIR / directory).resolve()
        self.localnet_dir, self.demo_dir = self.dir / "localnet", self.dir / "demo"
        self.web_db = self.dir / "web.sqlite3"
        self.web: subprocess.Popen[bytes] | None = None
        self.schedule: subprocess.Popen[bytes] | None = None
        self.runner: LocalnetRunner | None = None
        self.starting = True  # a signal now aborts the start-up (DemoInterrupted)
        self.stopping = False
        self.web_failed = False
        try:
            code = self._run(options)
        except DemoFailed as exc:
            raise CommandError(str(exc)) from None
        except (DemoInterrupted, KeyboardInterrupt):
            self._log("interrupted while starting; everything is stopped")
            code = 130
        if code:
            sys.exit(code)

    # --- steps ---------------------------------------------------------------------------------

    def _run(self, options: dict[str, Any]) -> int:
        existing = (self.localnet_dir / LOCALNET_FILE).exists() and not options["reset"]
        localnet = self._load(options) if existing else None
        node_ports = ([int(n.url.rsplit(":", 1)[1]) for n in localnet.nodes] if localnet else
                      list(range(options["base_port"], options["base_port"] + options["nodes"])))
        self._check_ports(options["port"], node_ports)
        if options["reset"]:
            self._reset()
        try:
            if localnet is None:
                localnet = create_localnet(self.localnet_dir, nodes=options["nodes"], base_port=options["base_port"])
                self._log(f"created {len(localnet.nodes)} node homes, keys and a genesis in {self.localnet_dir}")
            urls = {node.node_id: database_url_for(node, "") for node in localnet.nodes}
            prepare_databases(localnet, urls, log=self._log)
        except (LedgerError, LedgerServiceError) as exc:
            # Typically state made by older code (e.g. a contract whose source no longer matches its genesis pin).
            raise DemoFailed(f"{exc.message}; to start over with fresh state, add --reset") from exc
        self.runner = LocalnetRunner(localnet, urls, console_logs=False, log=self._log)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        nodes_stopped = False
        try:
            self.runner.start()
            self._wait_for_nodes(self.runner, localnet)
            env = self._web_env(localnet)
            self._manage(["migrate", "--noinput", "-v", "0"], env, "migrating the web database", quiet=True)
            # The seed reports its own progress; the services' INFO log lines would repeat it.
            seed_env = {"LOG_LEVEL": "WARNING", **env}
            self._manage(["seed_demo", "--out", str(self.demo_dir)], seed_env, "seeding the demo election",
                         quiet=False)
            self._start_web(env, options["port"])
            self._start_schedule(env)
            self._print_banner(localnet, options["port"])
            self.starting = False
            threading.Thread(target=self._watch_web, daemon=True).start()
            code = self.runner.wait()  # until Ctrl-C, SIGTERM or the web app's death requests the stop
            nodes_stopped = True
        finally:
            self.starting = False
            self.stopping = True
            self._stop_schedule()
            self._stop_web()
            if not nodes_stopped:
                self.runner.request_stop()
                self.runner.wait()
        self._log("the web app and all nodes are stopped")
        if self.web_failed:
            raise DemoFailed(f"the web app stopped unexpectedly; last lines of {self._web_log}:\n{tail(self._web_log)}")
        return code

    def _load(self, options: dict[str, Any]) -> Localnet:
        try:
            localnet = load_localnet(self.localnet_dir)
        except (LedgerError, LedgerServiceError) as exc:
            raise DemoFailed(f"{exc.message}; start over with --reset") from exc
        if len(localnet.nodes) != options["nodes"]:
            raise DemoFailed(f"{self.localnet_dir} holds {len(localnet.nodes)} nodes, not {options['nodes']}: "
                             f"run with --nodes {len(localnet.nodes)}, or add --reset to start over")
        first_port = int(localnet.nodes[0].url.rsplit(":", 1)[1])
        if first_port != options["base_port"]:
            self._log(f"note: the existing nodes use ports from {first_port}; --base-port applies with --reset")
        return localnet

    def _check_ports(self, web_port: int, node_ports: list[int]) -> None:
        if web_port in node_ports:
            raise DemoFailed(f"--port {web_port} is also a node port ({node_ports[0]}-{node_ports[-1]}); pick another")
        busy = [p for p in [web_port, *node_ports] if not is_port_free(p)]
        if busy:
            ports = f"port {busy[0]} is" if len(busy) == 1 else f"ports {', '.join(map(str, busy))} are"
            raise DemoFailed(
                f"{ports} already in use on {HOST} (is another demo running?). "
                "Stop whatever uses it, or choose other ports with --port (web) and --base-port (nodes; "
                "for existing nodes together with --reset or another --dir).")

    def _reset(self) -> None:
        for path in (self.localnet_dir, self.demo_dir):
            if path.exists():
                shutil.rmtree(path)
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.web_db) + suffix).unlink(missing_ok=True)
        self._log(f"--reset: removed the nodes, the web database and the demo files in {self.dir}")

    def _wait_for_nodes(self, runner: LocalnetRunner, localnet: Localnet) -> None:
        self._log(f"starting {len(localnet.nodes)} nodes (logs: {self.localnet_dir}/<node>/node.log)")
        waiting = {node.node_id: node for node in localnet.nodes}
        deadline = time.monotonic() + NODES_READY_TIMEOUT_S
        while waiting:
            for node_id, node in list(waiting.items()):
                code = runner.children[node_id].poll()
                if code is not None:
                    raise DemoFailed(f"node {node_id} exited with code {code} while starting; last lines of "
                                     f"{node.home / 'node.log'}:\n{tail(node.home / 'node.log')}")
                try:
                    status = fetch_json(node.url + "/v1/status")
                except (OSError, ValueError):
                    continue
                # A node answers while it is still syncing but refuses submissions until it takes part.
                if isinstance(status, dict) and status.get("participating"):
                    del waiting[node_id]
            if waiting and time.monotonic() > deadline:
                raise DemoFailed(f"nodes {', '.join(waiting)} were not taking part within "
                                 f"{NODES_READY_TIMEOUT_S:.0f}s; see their node.log in {self.localnet_dir}")
            time.sleep(0.2)
        self._log("all nodes are taking part in consensus")

    def _web_env(self, localnet: Localnet) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.web_db}",
            "LEDGER_NODE_URLS": ",".join(node.url for node in localnet.nodes),
            "LEDGER_AUTHORITY_KEY_FILE": str(localnet.authority_key_path),
            # Mobile voting: SMS codes land as files the person trying the demo can read, and the
            # election's blind-signing key lives with the rest of the demo state (reset with --reset).
            "MOBILE_SMS_BACKEND": "mobile_api.sms.backends.filebased.SmsBackend",
            "MOBILE_SMS_FILE_PATH": str(self.demo_dir / "sms"),
            "MOBILE_CREDENTIAL_KEY_DIR": str(self.demo_dir / "credential-keys"),
            "PYTHONUNBUFFERED": "1",
        }

    def _manage(self, args: list[str], env: dict[str, str], what: str, *, quiet: bool) -> None:
        self._log(what)
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]
        pipe = subprocess.PIPE if quiet else None
        # Own session: Ctrl-C reaches only this process, which then interrupts the child gently.
        child = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, stdout=pipe, stderr=pipe, text=True,
                                 start_new_session=True)
        try:
            _out, errors = child.communicate()
        except BaseException:
            stop_child_gently(child)
            raise
        if child.returncode != 0:
            output = (errors or "").strip()[-1500:] if quiet else "see the messages above"
            raise DemoFailed(f"{what} failed (manage.py {args[0]} exited with {child.returncode}): {output}")

    @property
    def _web_log(self) -> Path:
        return self.demo_dir / "web.log"

    def _start_web(self, env: dict[str, str], port: int) -> None:
        self._log(f"starting the web app on http://{HOST}:{port}/ (log: {self._web_log})")
        self.demo_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", str(port),
                   "--lifespan", "off"]
        with self._web_log.open("ab") as log:
            self.web = subprocess.Popen(
                command, env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only this process, which stops the children in order
                preexec_fn=terminate_with_parent,  # noqa: PLW1509  (no threads run in this process yet)
            )
        deadline = time.monotonic() + WEB_READY_TIMEOUT_S
        while True:
            if self.web.poll() is not None:
                raise DemoFailed(f"the web app exited with code {self.web.returncode} while starting; last lines "
                                 f"of {self._web_log}:\n{tail(self._web_log)}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise DemoFailed(f"the web app did not answer within {WEB_READY_TIMEOUT_S:.0f}s; "
                                     f"see {self._web_log}") from None
                time.sleep(0.2)

    def _start_schedule(self, env: dict[str, str]) -> None:
        """Open and close community polls on their schedule, as ``manage.py poll_schedule --every 30`` does in production."""
        log_path = self.demo_dir / "poll_schedule.log"
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "poll_schedule", "--every", "30"]
        with log_path.open("ab") as log:
            self.schedule = subprocess.Popen(
                command, env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=terminate_with_parent,  # noqa: PLW1509
            )
        self._log(f"polls open and close on schedule every 30 s (log: {log_path})")

    def _stop_schedule(self) -> None:
        if self.schedule is None or self.schedule.poll() is not None:
            return
        self.schedule.send_signal(signal.SIGTERM)
        try:
            self.schedule.wait(timeout=WEB_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.schedule.kill()
            self.schedule.wait()

    def _stop_web(self) -> None:
        if self.web is None:
            return
        if self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
        try:
            self.web.wait(timeout=WEB_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.web.kill()
            self.web.wait()

    def _watch_web(self) -> None:
        """If the web app dies on its own, stop the whole demo (the nodes alone are no demo)."""
        while self.web is not None and self.web.poll() is None:
            time.sleep(0.5)
        if not self.stopping and self.runner is not None:
            self.web_failed = True
            self.runner.request_stop()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True
        if self.runner is not None:
            self.runner.request_stop()
        if self.web is not None and self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
        if self.starting:
            self.starting = False
            raise DemoInterrupted()

    # --- output --------------------------------------------------------------------------------

    def _print_banner(self, localnet: Localnet, port: int) -> None:
        summary_file = self.demo_dir / "summary.json"
        summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
        web = f"http://{HOST}:{port}"
        rule = "=" * 78
        lines = [rule, f"  Demo running: {summary.get('title', '')}", "",
                 f"  Web app          {web}/",
                 f"  Dashboard        {web}/elections/{summary.get('election_id', '')}/   (sign in as official)",
                 f"  Ledger status    {web}/ledger/status/",
                 (f"  Election         id {summary.get('election_id')}, ledger id {summary.get('ledger_id')} "
                  f"on chain {localnet.chain}"),
                 "", "  Ledger nodes (each its own process, key and SQLite database):"]
        lines += [f"    {node.node_id:<12} {node.url:<24} {node.name}" for node in localnet.nodes]
        lines += ["", "  Logins (demo passwords, this machine only):"]
        lines += [f"    {login.username:<11} {login.password:<22} {login.role}" for login in LOGINS]
        if summary.get("cards_pdf"):
            used = f"; {summary['used_cards']} have already voted" if summary.get("used_cards") else ""
            lines += ["", f"  Token cards      {shown(Path(summary['cards_pdf']))}",
                      f"                   DEMO ONLY: this PDF holds the private keys of the vote tokens{used}"]
        if summary.get("kiosk_credential_file"):
            lines += [f"  Kiosk credential {shown(Path(summary['kiosk_credential_file']))}",
                      f"  Kiosk booth      {web}/kiosk/   (pair it with the credential above, then scan a card)"]
        example = (f"e.g. phone {summary['mobile_phone']}, birth date {summary['mobile_birth_date']}; "
                   if summary.get("mobile_phone") else "")
        lines += [f"  Mobile voting    {web}/m/   ({example}the SMS code",
                  f"                   is written to {shown(self.demo_dir / 'sms')}/)",
                  f"  Track a vote     {web}/track/",
                  f"  Observers        {web}/audit/   (sign in as observer)"]
        lines += [f"  Logs             {shown(self.localnet_dir)}/<node>/node.log, {shown(self._web_log)}", "",
                  "  Ctrl-C stops everything.", rule]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    def _log(self, message: str) -> None:
        self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {message}")
        self.stdout.flush()
