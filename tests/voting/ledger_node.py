"""A real one-node ledger network for the gateway tests, started with the project's own commands.

``make_localnet`` writes the node home, key, genesis and the election-commission key;
``migrate`` prepares the node's SQLite database; ``run_node`` serves it on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MANAGE = str(settings.BASE_DIR / "manage.py")


@dataclass
class LedgerNode:
    url: str
    chain: str
    authority_key_file: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_ENV="test", PYTHONUNBUFFERED="1")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _manage(*args: str, database_url: str | None = None) -> None:
    result = subprocess.run([sys.executable, MANAGE, *args], env=_env(database_url), capture_output=True, text=True,
                            timeout=180, cwd=settings.BASE_DIR)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def start_ledger_node(directory: Path) -> LedgerNode:
    """make_localnet (1 node), migrate its database, run_node; return once it participates."""
    _manage("make_localnet", "--nodes", "1", "--dir", str(directory), "--base-port", str(free_port()))
    meta = json.loads((directory / "localnet.json").read_text())
    node = meta["nodes"][0]
    home = Path(node["home"]) if Path(node["home"]).is_absolute() else directory / node["home"]
    database_url = f"sqlite:///{directory / 'node.sqlite3'}"
    _manage("migrate", "--noinput", "-v", "0", database_url=database_url)
    log = directory / "node.log"
    with log.open("ab") as handle:
        process = subprocess.Popen([sys.executable, MANAGE, "run_node", "--home", str(home)], env=_env(database_url),
                                   stdout=handle, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)
    started = LedgerNode(node["url"], meta["chain"], Path(meta["authority_key"]), process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("run_node exited:\n" + log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(started.url + "/v1/status", timeout=2) as response:
                if json.loads(response.read()).get("participating"):
                    return started
        except OSError:
            pass
        time.sleep(0.2)
    started.stop()
    raise RuntimeError("the ledger node did not become ready:\n" + log.read_text(errors="replace")[-3000:])
