"""A node's home directory: node.json, genesis.json and the node key (PEM, mode 0600).

node.json::

    {
      "node_id": "suwon",
      "listen": {"host": "127.0.0.1", "port": 7001},
      "public_url": "http://127.0.0.1:7001",
      "peers": {"seongnam": "http://127.0.0.1:7002", ...},
      "key_file": "node.pem",
      "genesis_file": "genesis.json",
      "consensus": {"timeout_propose_ms": 1000, ...},      (optional, ConsensusConfig fields)
      "mempool": {"max_txs": 50000},                        (optional)
      "proposal": {"max_txs": 1000}                         (optional; at most the genesis max_block_txs)
    }
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ledger.config import is_node_url
from ledger.core.consensus.interface import ConsensusConfig
from ledger.core.crypto import PrivateKey
from ledger.core.genesis import Genesis
from ledger.core.tx import IDENT_RE

from ..errors import NodeConfigInvalid
from ..services import read_genesis_file

NODE_FILE = "node.json"
DEFAULT_KEY_FILE = "node.pem"
DEFAULT_GENESIS_FILE = "genesis.json"
DEFAULT_MEMPOOL_MAX_TXS = 50_000
# Transactions this node puts in one proposal. Deployment, not protocol: the genesis
# max_block_txs (5000) bounds what any block may hold, but on a loaded 2-core machine a
# 5000-vote proposal took longer to build, send and validate than timeout_propose_ms, so
# nearly every height needed a second round (bench/network.py); 1000 kept round 0.
DEFAULT_PROPOSAL_MAX_TXS = 1000


@dataclass(frozen=True)
class NodeConfig:
    home: Path
    node_id: str
    listen_host: str
    listen_port: int
    public_url: str
    peers: dict[str, str]
    key_file: str = DEFAULT_KEY_FILE
    genesis_file: str = DEFAULT_GENESIS_FILE
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    mempool_max_txs: int = DEFAULT_MEMPOOL_MAX_TXS
    proposal_max_txs: int = DEFAULT_PROPOSAL_MAX_TXS

    @property
    def key_path(self) -> Path:
        return self.home / self.key_file

    @property
    def genesis_path(self) -> Path:
        return self.home / self.genesis_file

    def to_dict(self) -> dict[str, Any]:
        defaults = ConsensusConfig()
        consensus = {f.name: getattr(self.consensus, f.name) for f in fields(ConsensusConfig)
                     if getattr(self.consensus, f.name) != getattr(defaults, f.name)}
        data: dict[str, Any] = {
            "node_id": self.node_id,
            "listen": {"host": self.listen_host, "port": self.listen_port},
            "public_url": self.public_url,
            "peers": dict(sorted(self.peers.items())),
            "key_file": self.key_file,
            "genesis_file": self.genesis_file,
            "mempool": {"max_txs": self.mempool_max_txs},
            "proposal": {"max_txs": self.proposal_max_txs},
        }
        if consensus:
            data["consensus"] = consensus
        return data


def _fail(home: Path, message: str, **detail: Any) -> NodeConfigInvalid:
    return NodeConfigInvalid(f"{home / NODE_FILE}: {message}", detail={"home": str(home), **detail})


def load_node_config(home: Path) -> NodeConfig:
    """Read and check node.json; every problem names the file and the field."""
    path = home / NODE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NodeConfigInvalid(f"no {NODE_FILE} in {home} (create homes with make_localnet)",
                                detail={"home": str(home)}) from exc
    except (OSError, ValueError) as exc:
        raise _fail(home, f"not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail(home, "must be a JSON object")
    node_id = data.get("node_id")
    if not isinstance(node_id, str) or not IDENT_RE.match(node_id):
        raise _fail(home, "node_id must be an identifier like 'suwon'", field="node_id")
    listen = data.get("listen") or {}
    host, port = listen.get("host", "127.0.0.1"), listen.get("port")
    if not isinstance(host, str) or type(port) is not int or not 0 < port < 65536:
        raise _fail(home, "listen must be {host, port} with a TCP port", field="listen")
    public_url = data.get("public_url", f"http://{host}:{port}")
    peers = data.get("peers", {})
    if not isinstance(peers, dict) or not all(isinstance(k, str) and is_node_url(v) for k, v in peers.items()):
        raise _fail(home, "peers must map node ids to http(s) base URLs", field="peers")
    if node_id in peers:
        raise _fail(home, "a node must not list itself as a peer", field="peers")
    return NodeConfig(
        home=home, node_id=node_id, listen_host=host, listen_port=port,
        public_url=str(public_url).rstrip("/"), peers={k: v.rstrip("/") for k, v in peers.items()},
        key_file=str(data.get("key_file", DEFAULT_KEY_FILE)),
        genesis_file=str(data.get("genesis_file", DEFAULT_GENESIS_FILE)),
        consensus=_read_consensus(home, data.get("consensus", {})),
        mempool_max_txs=_read_mempool(home, data.get("mempool", {})),
        proposal_max_txs=_read_max_txs(home, data.get("proposal", {}), "proposal", DEFAULT_PROPOSAL_MAX_TXS),
    )


def _read_consensus(home: Path, raw: Any) -> ConsensusConfig:
    names = {f.name for f in fields(ConsensusConfig)}
    if not isinstance(raw, dict) or set(raw) - names or not all(type(v) is int and v >= 0 for v in raw.values()):
        raise _fail(home, f"consensus must map some of {sorted(names)} to non-negative integers", field="consensus")
    return ConsensusConfig(**raw)


def _read_mempool(home: Path, raw: Any) -> int:
    value = raw.get("max_txs", DEFAULT_MEMPOOL_MAX_TXS) if isinstance(raw, dict) else None
    if type(value) is not int or value < 1:
        raise _fail(home, "mempool.max_txs must be a positive integer", field="mempool")
    return value


def _read_max_txs(home: Path, raw: Any, section: str, default: int) -> int:
    value = raw.get("max_txs", default) if isinstance(raw, dict) else None
    if type(value) is not int or value < 1:
        raise _fail(home, f"{section}.max_txs must be a positive integer", field=section)
    return value


def write_node_config(config: NodeConfig) -> None:
    config.home.mkdir(parents=True, exist_ok=True)
    (config.home / NODE_FILE).write_text(json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")


# --- keys -------------------------------------------------------------------------------------


def write_private_key(path: Path, key: PrivateKey, *, overwrite: bool = False) -> None:
    """Write a PEM readable by the owner only; the file is created 0600, never chmod-ed after."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.to_pem())
    os.chmod(path, 0o600)  # an existing file keeps its old mode under O_TRUNC


def read_private_key(path: Path) -> PrivateKey:
    """Load a node key, refusing one that others may read (like ssh does)."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise NodeConfigInvalid(f"cannot read key file {path}: {exc.strerror}", detail={"path": str(path)}) from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NodeConfigInvalid(
            f"key file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); run chmod 600 on it",
            detail={"path": str(path)},
        )
    try:
        return PrivateKey.from_pem(data)
    except (ValueError, TypeError) as exc:
        raise NodeConfigInvalid(f"key file {path} is not a P-256 private key in PEM", detail={"path": str(path)}) from exc


@dataclass(frozen=True)
class NodeHome:
    """Everything a node process needs from its home, checked for consistency."""

    config: NodeConfig
    genesis: Genesis
    key: PrivateKey


def load_node_home(home: Path) -> NodeHome:
    from ledger.core.errors import LedgerError

    config = load_node_config(home)
    try:
        genesis = read_genesis_file(config.genesis_path)
    except LedgerError as exc:
        raise NodeConfigInvalid(f"{config.genesis_path}: {exc.message}", detail={"path": str(config.genesis_path)}) from exc
    key = read_private_key(config.key_path)
    validator = genesis.validator(config.node_id)
    if validator is None:
        raise NodeConfigInvalid(f"node {config.node_id} is not a validator in {config.genesis_path}",
                                detail={"node_id": config.node_id})
    if validator.pubkey != key.public_key:
        raise NodeConfigInvalid(f"{config.key_path} is not the key of validator {config.node_id} in the genesis",
                                detail={"node_id": config.node_id})
    unknown = sorted(peer for peer in config.peers if genesis.validator(peer) is None)
    if unknown:
        raise NodeConfigInvalid(f"peers {unknown} are not validators in the genesis", detail={"peers": unknown})
    return NodeHome(config, genesis, key)
