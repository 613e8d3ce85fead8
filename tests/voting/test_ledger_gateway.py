"""The ledger gateway against a real one-node network (NodeClient over HTTP, the real node runtime)."""

from __future__ import annotations

import secrets
import time
from datetime import datetime

import pytest
from django.contrib.auth.models import User

from ledger.client import NodeClient
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx
from voting.cards import parse_card_payload
from voting.errors import LedgerRejected, LedgerUnavailable
from voting.ledger_gateway import LedgerGateway, NodeClientTransport
from voting.models import Election, PollingStation, VoterRollEntry
from voting.pii import compute_checkin_id
from voting.selectors import get_results
from voting.services.checkin import check_in_voter
from voting.services.elections import close_election, open_election, schedule_election, tally_election
from voting.services.roll import import_roll
from voting.services.tokens import issue_tokens

from .factories import make_kiosk, roll_rows, to_csv
from .pdf_text import extract_qr_payloads

pytestmark = [pytest.mark.network, pytest.mark.slow]


def now_ms() -> int:
    return int(time.time() * 1000)


def new_election(gateway: LedgerGateway) -> str:
    election = "t" + secrets.token_hex(5)
    gateway.create_election(election=election, title="시험 선거", candidates=[("c1", "Kim"), ("c2", "Lee")],
                            opens_at_ms=now_ms() - 60_000, closes_at_ms=now_ms() + 3_600_000)
    return election


def test_create_is_idempotent_and_signed_by_the_authority(node_gateway: LedgerGateway) -> None:
    election = new_election(node_gateway)
    again = node_gateway.create_election(election=election, title="시험 선거", candidates=[("c1", "Kim"), ("c2", "Lee")],
                                         opens_at_ms=now_ms() - 60_000, closes_at_ms=now_ms() + 3_600_000)
    assert len(again) == 64
    record = node_gateway.get_election(election)
    assert record is not None and record["authority"] == node_gateway.authority_public_key_hex
    assert node_gateway.get_election("nosuchelection") is None


def test_mint_splits_into_batches_of_at_most_1000(node_gateway: LedgerGateway) -> None:
    election = new_election(node_gateway)
    addresses = [PrivateKey.generate().address for _ in range(2500)]
    node_gateway.register_station(election=election, station="st-1", voters=2500)
    tx_ids = node_gateway.mint(election=election, station="st-1", addresses=addresses)
    assert len(tx_ids) == 3
    assert node_gateway.get_tally(election)["stations"]["st-1"]["minted"] == 2500


def test_check_in_open_close_are_idempotent(node_gateway: LedgerGateway) -> None:
    election = new_election(node_gateway)
    node_gateway.register_station(election=election, station="st-1", voters=1)
    node_gateway.open_election(election=election)
    node_gateway.open_election(election=election)
    checkin = compute_checkin_id(b"k" * 32, 1)
    node_gateway.check_in(election=election, station="st-1", checkin_id=checkin)
    node_gateway.check_in(election=election, station="st-1", checkin_id=checkin)
    assert node_gateway.get_tally(election)["stations"]["st-1"]["checkins"] == 1
    with pytest.raises(LedgerRejected) as info:  # the station's limit is the ledger's rule, not ours
        node_gateway.check_in(election=election, station="st-1", checkin_id=compute_checkin_id(b"k" * 32, 2))
    assert info.value.detail["reason"] == "checkin_limit_exceeded"
    node_gateway.close_election(election=election)
    node_gateway.close_election(election=election)
    assert node_gateway.get_election(election)["status"] == "closed"  # type: ignore[index]


def test_unreachable_network_raises_ledger_unavailable(ledger_node: object) -> None:
    dead = NodeClient(["http://127.0.0.1:9"], timeout_s=1)
    gateway = LedgerGateway(NodeClientTransport(dead), PrivateKey.generate(), timeout_s=2)
    with pytest.raises(LedgerUnavailable):
        gateway.get_tally("anything")


@pytest.mark.django_db
def test_whole_election_through_the_services_on_a_real_node(
    node_gateway: LedgerGateway, official: User, election: Election, station: PollingStation, now: datetime,
) -> None:
    schedule_election(official, election, now)
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(3, ["suwon-1"])), now=now)
    make_kiosk(station, official)
    cards = issue_tokens(official, election, station, now=now)
    open_election(official, election, now)
    voter = VoterRollEntry.objects.filter(election=election).first()
    assert voter is not None
    check_in_voter(official, election, station, voter.pk, now=now)
    _payload, key = parse_card_payload(extract_qr_payloads(cards.pdf)[0])
    candidate = election.candidates.first()
    assert candidate is not None
    vote = make_tx(key, chain=node_gateway.chain_id, contract="vote", type="transfer",
                   payload={"election": election.ledger_id, "to": candidate.ledger_address})
    assert node_gateway.transport.commit([vote], 20)[0].committed
    close_election(official, election, now, confirm_early=True)
    tally_election(official, election, now)
    results = get_results(election)
    assert results is not None
    assert results["total"] == 1
    assert results["stations"][0]["votes"] == {"c1": 1}
    assert results["ledger_totals"]["checkins"] == 1 and results["ledger_totals"]["minted"] == 3


def test_relay_commits_a_voter_signed_vote_once_and_reports_rejections(node_gateway: LedgerGateway) -> None:
    election = new_election(node_gateway)
    token = PrivateKey.generate()
    node_gateway.register_station(election=election, station="st-1", voters=1)
    node_gateway.mint(election=election, station="st-1", addresses=[token.address])
    node_gateway.open_election(election=election)
    to = node_gateway.get_election(election)["candidates"][0]["address"]  # type: ignore[index]
    vote = make_tx(token, chain=node_gateway.chain_id, contract="vote", type="transfer",
                   payload={"election": election, "to": to})

    first = node_gateway.relay(vote)
    assert first.committed and first.height is not None and first.tx_id == vote.id_hex
    again = node_gateway.relay(vote)  # a kiosk retrying after a lost answer: same id, success, same height
    assert again.committed and again.height == first.height
    info = node_gateway.tx_status(vote.id_hex)
    assert info.status == "committed" and info.height == first.height and info.block_hash and len(info.block_hash) == 64

    second = make_tx(token, chain=node_gateway.chain_id, contract="vote", type="transfer",
                     payload={"election": election, "to": to}, nonce=1)
    refused = node_gateway.relay(second)
    assert not refused.committed and refused.code == "token_already_spent"
    assert node_gateway.tx_status(second.id_hex).status == "rejected"
    assert node_gateway.tx_status("00" * 32).status == "unknown"
    assert node_gateway.get_tally(election)["totals"]["spent"] == 1
