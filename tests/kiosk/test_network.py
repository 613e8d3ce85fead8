"""The booth against real ledger nodes: relay through one node, and a double spend raced on two nodes of four."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ledger.client import NodeClient
from tests.ledger.faults.cluster import ProcessNetwork
from tests.voting.ledger_node import free_port
from voting.ledger_gateway import LedgerGateway, set_gateway
from voting.models import Election, PollingStation

from kiosk.errors import VoteRejected
from kiosk.services import VoteReceipt, submit_vote
from kiosk.tracking import track_transaction

from .network import network_gateway, start_network, stop_network
from .support import KioskClient, setup_booth, sign_vote

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.mark.django_db
def test_a_vote_relayed_through_a_real_node_is_final_and_trackable(
    official: User, election: Election, station: PollingStation, node_gateway: LedgerGateway, now: datetime,
) -> None:
    booth = setup_booth(official, election, {station: 2}, now)
    client = KioskClient(booth.credential)
    raw, tx_id = sign_vote(booth.cards["suwon-1"][0], node_gateway.chain_id, election.ledger_id,
                           booth.candidates[0].ledger_address)
    response = client.vote(raw)
    assert response.status_code == 200, response.content
    receipt = json.loads(response.content)
    assert receipt["tracking_code"] == tx_id and receipt["height"] >= 1
    again = json.loads(client.vote(raw).content)  # a retry after a lost answer
    assert again == receipt
    report = track_transaction(tx_id)
    assert report.status == "recorded" and report.height == receipt["height"] and len(report.nodes) == 1
    dead = f"http://127.0.0.1:{free_port()}"  # a node that is down is reported, not fatal
    with_dead = track_transaction(tx_id, node_urls=[node_gateway.transport.client.urls[0], dead])  # type: ignore[attr-defined]
    assert [n.status for n in with_dead.nodes] == ["committed", "unreachable"] and with_dead.status == "recorded"
    tally = node_gateway.get_tally(election.ledger_id)
    assert tally["candidates"]["c1"] == 1 and tally["totals"]["spent"] == 1


@pytest.fixture(scope="module")
def four_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessNetwork]:
    network = start_network(tmp_path_factory.mktemp("kiosk-4-nodes"))
    yield network
    stop_network(network)


def test_a_card_raced_on_two_nodes_votes_exactly_once_and_all_nodes_agree(
    transactional_db: None, official: User, election: Election, station: PollingStation,
    four_nodes: ProcessNetwork, now: datetime, tmp_path: Path,
) -> None:
    set_gateway(network_gateway(four_nodes))
    try:
        booth = setup_booth(official, election, {station: 2}, now)
    finally:
        set_gateway(None)
    first, second = (network_gateway(four_nodes, [url]) for url in four_nodes.urls[:2])
    card, chain, ledger_id = booth.cards["suwon-1"][0], four_nodes.chain, election.ledger_id
    votes = [sign_vote(card, chain, ledger_id, booth.candidates[0].ledger_address),
             sign_vote(card, chain, ledger_id, booth.candidates[1].ledger_address, nonce=1)]
    start = threading.Barrier(2)

    def attempt(raw: bytes, gateway: LedgerGateway) -> VoteReceipt | VoteRejected:
        start.wait()
        try:
            return submit_vote(booth.kiosk, raw, now=timezone.now(), gateway=gateway)
        except VoteRejected as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, [raw for raw, _ in votes], [first, second]))
    receipts = [r for r in results if isinstance(r, VoteReceipt)]
    refusals = [r for r in results if isinstance(r, VoteRejected)]
    assert len(receipts) == 1 and len(refusals) == 1, results
    assert refusals[0].code == "token_already_spent"
    winner = receipts[0].tracking_code
    loser = next(tx_id for _, tx_id in votes if tx_id != winner)

    four_nodes.wait_same_head(timeout=60)
    tallies = [NodeClient([url]).query("vote", "tally", {"election": ledger_id}) for url in four_nodes.urls]
    assert all(t == tallies[0] for t in tallies)
    assert tallies[0]["totals"]["spent"] == 1 and sum(tallies[0]["candidates"].values()) == 1
    report = track_transaction(winner, node_urls=four_nodes.urls)
    assert [n.status for n in report.nodes] == ["committed"] * 4 and report.consistent
    assert all(n.status != "committed" for n in track_transaction(loser, node_urls=four_nodes.urls).nodes)



def test_a_vote_goes_through_another_node_when_the_first_one_hangs(
    transactional_db: None, official: User, election: Election, station: PollingStation,
    four_nodes: ProcessNetwork, now: datetime,
) -> None:
    set_gateway(network_gateway(four_nodes))
    try:
        booth = setup_booth(official, election, {station: 1}, now)
    finally:
        set_gateway(None)
    hung = four_nodes.nodes[0]
    raw, tx_id = sign_vote(booth.cards["suwon-1"][0], four_nodes.chain, election.ledger_id,
                           booth.candidates[0].ledger_address)
    hung.pause()  # SIGSTOP: connections are accepted, nothing answers
    try:
        receipt = submit_vote(booth.kiosk, raw, now=timezone.now(), gateway=network_gateway(four_nodes))
    finally:
        hung.resume()
    assert receipt.tracking_code == tx_id
    four_nodes.wait_same_head(timeout=60)
    report = track_transaction(tx_id, node_urls=four_nodes.urls)
    assert [n.status for n in report.nodes] == ["committed"] * 4 and report.consistent
