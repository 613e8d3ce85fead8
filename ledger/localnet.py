"""Creating a local network of municipal nodes: homes, keys and one shared genesis.

Layout of ``DIR`` (every node home is self-contained, so it can be copied to a machine)::

    DIR/localnet.json        nodes, URLs, chain (read by the ``localnet`` command)
    DIR/genesis.json         the shared genesis (canonical JSON)
    DIR/authority.pem        election-commission key, unless --authority-key was given
    DIR/<id>/node.json       node id, listen address, peers
    DIR/<id>/node.pem        the validator key (0600)
    DIR/<id>/genesis.json    copy of the genesis
"""

from __future__ import annotations

import json
import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.core import contracts
from ledger.core.consensus.interface import ConsensusConfig
from ledger.core.crypto import PrivateKey
from ledger.core.genesis import Authority, ContractPin, Genesis, Validator

from .errors import NodeConfigInvalid
from .municipalities import get_municipalities
from .node.config import (
    DEFAULT_GENESIS_FILE,
    DEFAULT_KEY_FILE,
    NodeConfig,
    read_private_key,
    write_node_config,
    write_private_key,
)
from .services import read_genesis_file, write_genesis_file

LOCALNET_FILE = "localnet.json"
AUTHORITY_FILE = "authority.pem"
AUTHORITY_ID = "nec-gyeonggi"
AUTHORITY_NAME = "경기도선거관리위원회"
DEFAULT_CHAIN = "gyeonggi-demo"
DEFAULT_BASE_PORT = 7001


@dataclass(frozen=True)
class LocalnetNode:
    node_id: str
    name: str
    home: Path
    url: str


@dataclass(frozen=True)
class Localnet:
    directory: Path
    chain: str
    genesis: Genesis
    nodes: tuple[LocalnetNode, ...]
    authority_key_path: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "genesis_hash": self.genesis.hash.hex(),
            "authority_key": str(self.authority_key_path),
            "nodes": [{"id": n.node_id, "name": n.name, "home": n.home.name, "url": n.url} for n in self.nodes],
        }


def compute_contract_pins() -> tuple[ContractPin, ...]:
    return tuple(ContractPin(cid, contracts.contract_source_sha256(cid)) for cid in contracts.registered_ids())


def create_localnet(
    directory: Path,
    *,
    nodes: int,
    base_port: int = DEFAULT_BASE_PORT,
    chain: str = DEFAULT_CHAIN,
    host: str = "127.0.0.1",
    authority_key_path: Path | None = None,
    consensus: dict[str, int] | None = None,
    now_ms: int | None = None,
) -> Localnet:
    """Write node homes for the first ``nodes`` Gyeonggi municipalities; refuses to overwrite."""
    municipalities = get_municipalities()
    if not 1 <= nodes <= len(municipalities):
        raise NodeConfigInvalid(f"--nodes must be between 1 and {len(municipalities)}", detail={"nodes": nodes})
    if not 1 <= base_port <= 65535 - nodes:
        raise NodeConfigInvalid("--base-port leaves no room for the nodes' ports", detail={"base_port": base_port})
    if (directory / LOCALNET_FILE).exists():
        raise NodeConfigInvalid(f"{directory} already holds a localnet; use another --dir or delete it",
                                detail={"dir": str(directory)})
    directory.mkdir(parents=True, exist_ok=True)
    chosen = municipalities[:nodes]
    keys = {m.code: PrivateKey.generate() for m in chosen}
    urls = {m.code: f"http://{host}:{base_port + index}" for index, m in enumerate(chosen)}
    if authority_key_path is None:
        authority_key_path = directory / AUTHORITY_FILE
        write_private_key(authority_key_path, PrivateKey.generate())
    authority = read_private_key(authority_key_path)
    genesis = Genesis(
        chain=chain,
        time=now_ms if now_ms is not None else int(time.time() * 1000),
        validators=tuple(Validator(m.code, m.name_ko, keys[m.code].public_key, 1) for m in chosen),
        authorities=(Authority(AUTHORITY_ID, AUTHORITY_NAME, authority.public_key),),
        contracts=compute_contract_pins(),
        params={},
    )
    write_genesis_file(directory / DEFAULT_GENESIS_FILE, genesis)
    result = []
    for index, m in enumerate(chosen):
        home = directory / m.code
        config = NodeConfig(
            home=home, node_id=m.code, listen_host=host, listen_port=base_port + index, public_url=urls[m.code],
            peers={peer: url for peer, url in urls.items() if peer != m.code},
            consensus=ConsensusConfig(**(consensus or {})),
        )
        write_node_config(config)
        write_private_key(home / DEFAULT_KEY_FILE, keys[m.code])
        write_genesis_file(home / DEFAULT_GENESIS_FILE, genesis)
        result.append(LocalnetNode(m.code, m.name_ko, home, urls[m.code]))
    localnet = Localnet(directory, chain, genesis, tuple(result), authority_key_path.resolve())
    (directory / LOCALNET_FILE).write_text(json.dumps(localnet.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    return localnet


def load_localnet(directory: Path) -> Localnet:
    path = directory / LOCALNET_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NodeConfigInvalid(f"cannot read {path}: {exc}", detail={"path": str(path)}) from exc
    genesis = read_genesis_file(directory / DEFAULT_GENESIS_FILE)
    nodes = tuple(LocalnetNode(n["id"], n["name"], directory / n["home"], n["url"]) for n in data["nodes"])
    return Localnet(directory, data["chain"], genesis, nodes, Path(data["authority_key"]))


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port_block(count: int) -> int:
    """A base port such that base..base+count-1 are free now, below the ephemeral range.

    Ports from the ephemeral range would collide with the nodes' own outgoing connections
    (31 nodes open 930 of them) before every node has bound its listening port.
    """
    low, _ = _ephemeral_range()
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(10_000, max(10_001, low - count - 1))
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError("no block of free ports")
