"""PostgreSQL for bench/campaign.py: databases on the shared server, and a private server of our own.

One node's database lives on a separate PostgreSQL instance that the campaign starts with
Debian's ``initdb``/``pg_ctl`` on a private port and data directory, so that "one database
restarts" is a real ``pg_ctl stop``/``start`` of a real server (every connection of that
node is cut, in-flight transactions are aborted), not a simulation. The shared server on
127.0.0.1:5432 cannot be restarted under the other users of the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("CAMPAIGN_PG_BIN", "/usr/lib/postgresql/15/bin"))
SHARED_SERVER = "postgres://postgres@127.0.0.1:5432"


def server_reachable(url: str = SHARED_SERVER, timeout: float = 3.0) -> bool:
    """Whether a PostgreSQL server answers at ``url`` (a user machine may have none)."""
    import psycopg

    try:
        with psycopg.connect(url + "/postgres", connect_timeout=int(timeout)):
            return True
    except psycopg.Error:
        return False


def private_server_possible() -> str | None:
    """None when a private server can be started here, otherwise why not."""
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} is missing (Debian: apt-get install postgresql-15)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses to run as root"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """A throw-away PostgreSQL server (trust auth, loopback only) that can be stopped and started."""

    def __init__(self) -> None:
        # Outside any 0700 temporary directory of ours: the server may run as the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="campaign-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.running = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """As the postgres user when we are root (initdb and postgres refuse root)."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
        done = self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                         "-E", "UTF8", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-1500:]}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nmax_connections = 100\n"
                       "shared_buffers = 64MB\n")
        self.start()

    def start(self) -> None:
        done = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-1500:]} {self.log_tail()}")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """``fast``: every session is terminated and open transactions roll back (a real outage)."""
        done = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr[-1500:]}")
        self.running = False

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def wait_accepting(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not server_reachable(url, timeout=2):
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL at {url} did not come back in {timeout}s")
        time.sleep(0.2)
