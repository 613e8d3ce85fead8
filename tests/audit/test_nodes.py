"""Cross-node monitoring against a real one-node network, with stand-in nodes that disagree, lag or are gone."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from audit.selectors import get_snapshot
from ledger.client import NodeClient
from ledger.core.block import sign_vote
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx
from tests.voting.ledger_node import LedgerNode, free_port
from voting.ledger_gateway import LedgerGateway
from voting.models import Election, PollingStation

from .conftest import put_on_ledger
from .fake_node import fake_node

pytestmark = [pytest.mark.django_db, pytest.mark.network]


def node_codes(election: Election) -> dict[str, list[str]]:
    """Flags per node label."""
    return {r["url"]: r["flags"] for r in get_snapshot(election).data["nodes"]["rows"]}


def same(path: str, answer: dict[str, Any]) -> dict[str, Any]:
    return answer


def test_nodes_that_agree_raise_nothing(
    ledger_node: LedgerNode, node_urls: Any, node_gateway: LedgerGateway, official: User, election: Election,
    station: PollingStation, now: datetime,
) -> None:
    put_on_ledger(official, election, station, now)
    with fake_node(ledger_node.url, same) as twin:
        node_urls(ledger_node.url, twin)
        snapshot = get_snapshot(election)
    assert [a.code.value for a in snapshot.anomalies] == []
    nodes = snapshot.data["nodes"]
    height = NodeClient([ledger_node.url]).status()["height"]
    assert [r["height"] for r in nodes["rows"]] == [height, height] and nodes["diverged"] == 0
    assert all(r["state"] == "ok" and r["last_commit"] for r in nodes["rows"])


def test_a_node_with_another_block_at_the_same_height_is_diverged(
    ledger_node: LedgerNode, node_urls: Any, node_gateway: LedgerGateway, official: User, election: Election,
    station: PollingStation, now: datetime,
) -> None:
    put_on_ledger(official, election, station, now)

    def forked(path: str, answer: dict[str, Any]) -> dict[str, Any]:
        if path == "/v1/status":
            answer["head_hash"] = "f" * 64
        return answer

    with fake_node(ledger_node.url, same) as twin, fake_node(ledger_node.url, forked) as fork:
        node_urls(ledger_node.url, twin, fork)
        flags = node_codes(election)
        anomalies = get_snapshot(election).to_dict()["anomalies"]
    assert flags == {ledger_node.url: [], twin: [], fork: ["node_diverged"]}
    (finding,) = [a for a in anomalies if a["code"] == "node_diverged"]
    assert finding["severity"] == "critical" and finding["detail"]["hash"] == "f" * 64


def test_a_node_beyond_the_lag_threshold_is_flagged(
    ledger_node: LedgerNode, node_urls: Any, node_gateway: LedgerGateway, official: User, election: Election,
    station: PollingStation, now: datetime, settings: Any,
) -> None:
    put_on_ledger(official, election, station, now)
    head = NodeClient([ledger_node.url]).status()["height"]
    assert head >= 3

    def behind(by: int) -> Any:
        def alter(path: str, answer: dict[str, Any]) -> dict[str, Any]:
            if path == "/v1/status":  # an honest node that has not caught up: its head is an earlier block
                earlier = NodeClient([ledger_node.url]).block(answer["height"] - by)
                answer.update(height=earlier["height"], head_hash=earlier["hash"])
            return answer
        return alter

    settings.AUDIT = {"LAG_THRESHOLD_BLOCKS": 1}
    with fake_node(ledger_node.url, behind(1)) as slow, fake_node(ledger_node.url, behind(2)) as slower:
        node_urls(ledger_node.url, slow, slower)
        flags = node_codes(election)
    assert flags == {ledger_node.url: [], slow: [], slower: ["node_lagging"]}


def test_a_node_that_does_not_answer_is_flagged(
    ledger_node: LedgerNode, node_urls: Any, node_gateway: LedgerGateway, election: Election,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    node_urls(ledger_node.url, dead)
    snapshot = get_snapshot(election).to_dict()
    assert {r["url"]: r["flags"] for r in snapshot["nodes"]["rows"]} == {ledger_node.url: [], dead: ["node_unreachable"]}
    assert [a["code"] for a in snapshot["anomalies"]] == ["node_unreachable", "election_not_on_ledger"]
    node_urls(dead)
    assert get_snapshot(election).anomalies[0].code.value == "no_node_reachable"


@pytest.mark.parametrize("nonsense", [b"<html>not a node</html>", b"[1, 2]", b'{"height": "tall"}'])
def test_a_node_that_answers_nonsense_is_down_not_a_crash(
    ledger_node: LedgerNode, node_urls: Any, node_gateway: LedgerGateway, election: Election, nonsense: bytes,
) -> None:
    with fake_node(ledger_node.url, lambda path, answer: nonsense) as odd:
        node_urls(ledger_node.url, odd)
        rows = get_snapshot(election).data["nodes"]["rows"]
    assert [(r["state"], r["flags"]) for r in rows] == [("ok", []), ("down", ["node_unreachable"])]
    assert rows[1]["error"].startswith("invalid answer")


def node_key(ledger_node: LedgerNode, node_id: str) -> PrivateKey:
    """The validator key make_localnet wrote next to the authority key (DIR/<id>/node.pem)."""
    path = Path(ledger_node.authority_key_file).parent / node_id / "node.pem"
    return PrivateKey.from_pem(path.read_bytes())


def test_equivocation_evidence_on_chain_is_shown(
    ledger_node: LedgerNode, node_urls: Any, node_gateway: LedgerGateway, election: Election,
) -> None:
    """Two conflicting signed prevotes of the validator, reported with the system contract's evidence call."""
    node_urls(ledger_node.url)
    status = NodeClient([ledger_node.url]).status()
    validator, chain = status["node_id"], status["chain"]
    key = node_key(ledger_node, validator)
    height = 10_000 + free_port()  # a slot nobody has reported before in this session's chain
    votes = [sign_vote(key, chain=chain, kind="prevote", height=height, round=0, block=bytes([b]) * 32,
                       validator=validator).to_dict() for b in (1, 2)]
    report = make_tx(key, chain=chain, contract="system", type="evidence", payload={"votes": votes})
    assert node_gateway.transport.commit([report], 20)[0].committed
    snapshot = get_snapshot(election).to_dict()
    rows = [e for e in snapshot["evidence"] if e["height"] == height]
    assert len(rows) == 1 and rows[0]["validator"] == validator and rows[0]["kind"] == "prevote"
    assert sorted(rows[0]["blocks"]) == [("01" * 32), ("02" * 32)]
    finding = next(a for a in snapshot["anomalies"] if a["code"] == "equivocation_recorded" and a["detail"]["height"] == height)
    assert finding["severity"] == "critical" and json.dumps(finding)
