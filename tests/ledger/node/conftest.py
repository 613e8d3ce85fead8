"""Fixtures that run real node processes on loopback (marked ``network``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.core.crypto import PrivateKey
from ledger.localnet import Localnet, create_localnet
from ledger.node.config import read_private_key
from tests.ledger.node.support import (
    free_port_block,
    manage,
    start_node,
    stop,
    wait_ready,
)

FAST_CONSENSUS = {"timeout_propose_ms": 500, "timeout_prevote_ms": 300, "timeout_precommit_ms": 300,
                  "rebroadcast_ms": 500}


@dataclass
class RunningNode:
    node_id: str
    url: str
    home: Path
    database_url: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.home / "node.log"

    def start(self) -> None:
        self.process = start_node(self.home, self.database_url, self.log)

    def stop(self) -> int:
        return stop(self.process) if self.process is not None else 0


@dataclass
class Network:
    localnet: Localnet
    nodes: list[RunningNode]
    authority: PrivateKey

    @property
    def chain(self) -> str:
        return self.localnet.chain


def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session, copied for every node (migrating each takes seconds)."""
    template = tmp_path_factory.getbasetemp() / "node-template.sqlite3"
    if not template.exists():
        result = manage("migrate", "--noinput", "-v", "0", database_url=f"sqlite:///{template}")
        assert result.returncode == 0, result.stderr
    return template


def make_network(tmp_path: Path, template: Path, count: int) -> Network:
    localnet = create_localnet(tmp_path / "net", nodes=count, base_port=free_port_block(count),
                               consensus=FAST_CONSENSUS)
    nodes = []
    for node in localnet.nodes:
        database = node.home / "node.sqlite3"
        shutil.copyfile(template, database)
        nodes.append(RunningNode(node.node_id, node.url, node.home, f"sqlite:///{database}"))
    return Network(localnet, nodes, read_private_key(localnet.authority_key_path))


def dump_logs(network: Network) -> str:
    return "\n".join(f"--- {n.node_id} ---\n" + n.log.read_text(errors="replace")[-3000:]
                     for n in network.nodes if n.log.exists())


@pytest.fixture(scope="module")
def single_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    network = make_network(tmp_path_factory.mktemp("single"), migrated_template(tmp_path_factory), 1)
    node = network.nodes[0]
    node.start()
    try:
        wait_ready(node.url)
        yield network
    finally:
        code = node.stop()
        assert code == 0, dump_logs(network)
