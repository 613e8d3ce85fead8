"""A real multi-node ledger (run_node processes on loopback) for the kiosk's network and browser tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ledger.client import NodeClient
from tests.ledger.faults.cluster import ProcessNetwork, build_network
from voting.ledger_gateway import LedgerGateway, NodeClientTransport


def start_network(directory: Path, count: int = 4) -> ProcessNetwork:
    """``count`` validators, each its own process and SQLite file; returns once all participate."""
    network = build_network(directory, count)
    try:
        network.start_all()
    except BaseException:
        stop_network(network)
        raise
    return network


def stop_network(network: ProcessNetwork) -> None:
    for node in network.nodes:
        if node.paused:
            node.resume()
        if node.running:
            node.terminate()
    network.proxies.close()


def network_gateway(network: ProcessNetwork, urls: Sequence[str] | None = None, *, timeout_s: float = 30) -> LedgerGateway:
    """The production gateway (NodeClient with failover) over ``urls`` (default: every node)."""
    client = NodeClient(list(urls or network.urls), timeout_s=5)
    return LedgerGateway(NodeClientTransport(client), network.authority, timeout_s=timeout_s)
