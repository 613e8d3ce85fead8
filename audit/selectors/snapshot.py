"""The observer's snapshot of one election: nodes, reconciliation, mobile, candidates, evidence, contracts.

``get_snapshot`` is what the page and the JSON endpoint call. The live feed builds the same
thing in two steps (``gather_ledger_facts`` off the event loop, ``get_site_facts`` on the
database thread) and ``assemble_snapshot`` puts them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from voting.lifecycle import Status
from voting.models import Election

from ..anomalies import Anomaly, Code, Severity, sort_anomalies
from ..config import get_audit_settings
from .ledger_facts import ChainFacts, NodeFacts, get_chain_facts, get_node_client, get_node_facts
from .reconcile import (
    compute_candidates,
    compute_contracts,
    compute_evidence,
    compute_mobile,
    compute_nodes,
    compute_stations,
)
from .site_facts import SiteFacts, get_site_facts


def get_ledger_transport() -> Any:
    """The voting gateway's transport (real nodes with failover, or whatever a test installed).

    Reading needs no signing key: where this server holds no election-authority key (an
    observers' own deployment), a plain node transport over the configured nodes is used.
    """
    from voting.errors import LedgerUnavailable
    from voting.ledger_gateway import NodeClientTransport, get_gateway

    try:
        return get_gateway().transport
    except LedgerUnavailable:
        return NodeClientTransport(get_node_client())


@dataclass(frozen=True)
class ElectionRef:
    """The few fields of an election the snapshot needs, copied so no model crosses threads."""

    id: int
    ledger_id: str
    title: str
    status: str

    @classmethod
    def of(cls, election: Election) -> ElectionRef:
        return cls(election.pk, election.ledger_id, election.title, election.status)

    @property
    def on_ledger(self) -> bool:
        return self.status != str(Status.DRAFT)


@dataclass
class Snapshot:
    """Language-free data plus anomalies; ``to_dict`` renders the anomalies' sentences in the active language."""

    data: dict[str, Any]
    anomalies: list[Anomaly]
    fingerprint: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        counts = {severity.value: 0 for severity in Severity}
        for anomaly in self.anomalies:
            counts[anomaly.severity.value] += 1
        return {**self.data, "anomalies": [a.to_dict() for a in self.anomalies], "anomaly_counts": counts}


def gather_ledger_facts(
    election: ElectionRef, *, client: Any = None, statuses: dict[str, Any] | None = None,
    get_transport: Callable[[], Any] = get_ledger_transport,
) -> tuple[NodeFacts, ChainFacts]:
    """Network reads only (nodes, contract state); safe to run in any thread."""
    nodes = get_node_facts(client if client is not None else get_node_client(), statuses)
    chain = get_chain_facts(election.ledger_id, on_ledger=election.on_ledger, get_transport=get_transport)
    return nodes, chain


def assemble_snapshot(
    election: ElectionRef, nodes: NodeFacts, chain: ChainFacts, site: SiteFacts, now: datetime,
) -> Snapshot:
    """Run every check over the facts; anomalies sorted most severe first."""
    lag = get_audit_settings().lag_threshold_blocks
    node_section, anomalies = compute_nodes(nodes, lag)
    if not election.on_ledger:
        anomalies.append(Anomaly(Code.ELECTION_NOT_ON_LEDGER))
    elif chain.error:
        anomalies.append(Anomaly(Code.LEDGER_UNAVAILABLE, "", {"reason": chain.error}))
    names = {r["node_id"]: r["name"] for r in nodes.rows if r["node_id"] and r["name"]}
    stations, found = compute_stations(chain, site)
    anomalies += found
    mobile, found = compute_mobile(chain, site)
    anomalies += found
    candidates, found = compute_candidates(chain, site)
    anomalies += found
    evidence, found = compute_evidence(chain, names)
    anomalies += found
    contracts, found = compute_contracts(chain)
    anomalies += found
    data = {
        "election": {"id": election.id, "ledger_id": election.ledger_id, "title": election.title,
                     "status": election.status, "status_on_ledger": (chain.record or {}).get("status")},
        "generated_at": now.isoformat(), "ledger_error": chain.error, "nodes": node_section,
        "stations": stations, "mobile": mobile, "candidates": candidates, "evidence": evidence, "contracts": contracts,
    }
    return Snapshot(data, sort_anomalies(anomalies), nodes.fingerprint)


def get_snapshot(election: Election, *, now: datetime | None = None) -> Snapshot:
    """Everything in one synchronous call (for views and scripts)."""
    ref = ElectionRef.of(election)
    nodes, chain = gather_ledger_facts(ref)
    return assemble_snapshot(ref, nodes, chain, get_site_facts(election), now or timezone.now())
