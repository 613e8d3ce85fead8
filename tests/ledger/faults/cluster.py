"""A network of real ``run_node`` processes on loopback that a test can kill, pause and cut off.

Each node is ``manage.py run_node --home`` with its own SQLite file (a copy of one migrated
template) and its own port; nodes reach each other through ``PairProxies`` so a node can be
isolated. Faults are real: SIGKILL, SIGSTOP/SIGCONT, and blackholed TCP.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.core.crypto import PrivateKey
from ledger.localnet import Localnet, create_localnet
from ledger.node.config import load_node_config, read_private_key, write_node_config
from tests.ledger.faults.proxy import PairProxies
from tests.ledger.node.support import MANAGE, free_port_block, manage, node_env, wait_until

# Short timeouts so that a round lost to a dead proposer costs about a second.
FAULT_CONSENSUS = {"timeout_propose_ms": 800, "timeout_prevote_ms": 400, "timeout_precommit_ms": 400,
                   "timeout_delta_ms": 300, "rebroadcast_ms": 500}


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class ProcessNode:
    node_id: str
    url: str
    home: Path
    database: Path
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False
    url_override: str | None = None  # a PostgreSQL database instead of the SQLite file (bench/campaign.py)

    @property
    def log(self) -> Path:
        return self.home / "node.log"

    @property
    def database_url(self) -> str:
        return self.url_override or f"sqlite:///{self.database}"

    def start(self) -> None:
        with self.log.open("ab") as handle:
            handle.write(f"\n===== test starts {self.node_id} at {time.strftime('%H:%M:%S')} =====\n".encode())
            handle.flush()
            self.process = subprocess.Popen([sys.executable, MANAGE, "run_node", "--home", str(self.home)],
                                            env=node_env(self.database_url), stdout=handle,
                                            stderr=subprocess.STDOUT)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, whatever was in flight is lost."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def terminate(self, timeout: float = 30) -> int:
        """Graceful stop (SIGTERM); returns the exit code."""
        if self.process is None:
            return 0
        if self.paused:
            self.resume()
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -9

    def status(self, timeout: float = 3.0) -> dict[str, Any] | None:
        try:
            return get_json(self.url + "/v1/status", timeout)  # type: ignore[no-any-return]
        except (OSError, urllib.error.URLError, ValueError):
            return None


@dataclass
class ProcessNetwork:
    localnet: Localnet
    nodes: list[ProcessNode]
    proxies: PairProxies
    authority: PrivateKey

    @property
    def chain(self) -> str:
        return self.localnet.chain

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node(self, node_id: str) -> ProcessNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def start_all(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            self.wait_participating(node)

    def wait_participating(self, node: ProcessNode, timeout: float = 90) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            if not node.running:
                raise AssertionError(f"{node.node_id} exited:\n{tail(node.log)}")
            status = node.status()
            return status if status and status.get("participating") else None

        return wait_until(ready, timeout=timeout, interval=0.2, what=f"{node.node_id} to participate")  # type: ignore[no-any-return]

    def heights(self, nodes: list[ProcessNode] | None = None) -> dict[str, int | None]:
        """Stored heights, asked of every node in parallel (None: no answer)."""
        chosen = nodes if nodes is not None else self.nodes
        with ThreadPoolExecutor(len(chosen)) as pool:
            statuses = list(pool.map(lambda n: n.status(), chosen))
        return {n.node_id: (s["persisted_height"] if s else None) for n, s in zip(chosen, statuses)}

    def current_proposer(self) -> ProcessNode:
        """The validator due to propose the next block, as one live node sees it now."""
        for node in self.nodes:
            status = node.status() if node.running and not node.paused else None
            if status is not None:
                validator = self.localnet.genesis.proposer_for(status["height"] + 1, status["round"] or 0)
                return self.node(validator.id)
        raise AssertionError("no node answers /v1/status")

    def wait_height(self, height: int, nodes: list[ProcessNode], timeout: float, what: str) -> None:
        def reached() -> bool:
            heights = self.heights(nodes)
            return all(h is not None and h >= height for h in heights.values())

        wait_until(reached, timeout=timeout, interval=0.25, what=f"{what} (height >= {height}; {self.heights(nodes)})")

    def wait_same_head(self, timeout: float) -> int:
        """Until every node stores the same height for two polls in a row; returns it."""
        seen: list[int] = []

        def settled() -> bool:
            heights = set(self.heights().values())
            if len(heights) == 1 and None not in heights:
                seen.append(heights.pop())  # type: ignore[arg-type]
                return len(seen) >= 2 and seen[-1] == seen[-2]
            seen.clear()
            return False

        wait_until(settled, timeout=timeout, interval=0.5, what=f"every node to hold the same head ({self.heights()})")
        return seen[-1]

    def shutdown(self) -> dict[str, int]:
        codes = {n.node_id: n.terminate() for n in self.nodes}
        self.proxies.close()
        return codes

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"--- {n.node_id} ---\n{tail(n.log, lines)}" for n in self.nodes)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def migrated_template(directory: Path) -> Path:
    template = directory / "template.sqlite3"
    result = manage("migrate", "--noinput", "-v", "0", database_url=f"sqlite:///{template}")
    assert result.returncode == 0, result.stderr
    return template


def build_network(directory: Path, count: int = 4,
                  prepare: Callable[[Localnet], dict[str, str]] | None = None) -> ProcessNetwork:
    """Homes, keys, genesis and databases for ``count`` nodes whose peer links go through proxies.

    ``prepare`` (bench/campaign.py) creates the nodes' databases itself and returns their URLs
    by node id; by default every node gets a copy of one migrated SQLite template."""
    template = migrated_template(directory) if prepare is None else None
    localnet = create_localnet(directory / "net", nodes=count, base_port=free_port_block(count),
                               consensus=FAULT_CONSENSUS)
    database_urls = prepare(localnet) if prepare is not None else {}
    proxies = PairProxies()
    ports = {n.node_id: load_node_config(n.home).listen_port for n in localnet.nodes}
    nodes = []
    for entry in localnet.nodes:
        config = load_node_config(entry.home)
        peers = {peer: f"http://127.0.0.1:{proxies.add(entry.node_id, peer, ports[peer])}" for peer in config.peers}
        write_node_config(dataclasses.replace(config, peers=peers))
        database = entry.home / "node.sqlite3"
        if template is not None:
            shutil.copyfile(template, database)
        nodes.append(ProcessNode(entry.node_id, entry.url, entry.home, database,
                                 url_override=database_urls.get(entry.node_id)))
    return ProcessNetwork(localnet, nodes, proxies, read_private_key(localnet.authority_key_path))


def verify_database(node: ProcessNode) -> subprocess.Popen[str]:
    """``ledger_verify --json`` on a stopped node's database (started, not awaited)."""
    return subprocess.Popen([sys.executable, MANAGE, "ledger_verify", "--json", "--no-progress"],
                            env=node_env(node.database_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
