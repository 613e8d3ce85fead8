"""Reconciliation on the real vote contract (in-process ledger): each flag raised by making its situation happen."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from audit.selectors import get_snapshot
from ledger.core import blindrsa
from ledger.core.contracts.vote import CREDENTIAL_STATION
from ledger.core.crypto import PrivateKey
from ledger.core.genesis import ContractPin
from ledger.core.machine import Ledger
from ledger.core.tx import make_tx
from tests.ledger.core.factory import issue_credential
from tests.voting.inprocess_ledger import InProcessTransport
from voting.ledger_gateway import get_gateway
from voting.models import Candidate, Election, ElectionTally, PollingStation, VoterRollEntry
from voting.services.checkin import check_in_voter
from voting.services.elections import close_election, tally_election

from .conftest import put_on_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_nodes(node_urls: Any) -> None:
    """These tests are about the contract state; the node list is one URL that refuses connections."""
    from tests.voting.ledger_node import free_port

    node_urls(f"http://127.0.0.1:{free_port()}")


def vote(transport: InProcessTransport, election: Election, key: PrivateKey, position: int = 1) -> None:
    candidate = Candidate.objects.get(election=election, position=position)
    tx = make_tx(key, chain=transport.get_chain_id(), contract="vote", type="transfer",
                 payload={"election": election.ledger_id, "to": candidate.ledger_address})
    assert transport.commit([tx], 5)[0].committed


def check_in(official: User, election: Election, station: PollingStation, now: datetime) -> None:
    entry = VoterRollEntry.objects.filter(election=election, station=station, status="eligible").first()
    assert entry is not None
    check_in_voter(official, election, station, entry.pk, now=now)


def codes(election: Election) -> list[str]:
    """Anomaly codes, the node ones left out (the configured node is deliberately down here)."""
    return [a.code.value for a in get_snapshot(election).anomalies if not a.code.value.startswith(("node_", "no_node"))]


def station_row(election: Election, code: str) -> dict[str, Any]:
    return next(r for r in get_snapshot(election).data["stations"]["rows"] if r["code"] == code)


def test_a_clean_election_reconciles(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    keys = put_on_ledger(official, election, station, now)
    check_in(official, election, station, now)
    check_in(official, election, station, now)
    vote(transport, election, keys[0], 1)
    vote(transport, election, keys[1], 2)
    assert codes(election) == []
    row = station_row(election, station.code)
    assert (row["registered"], row["minted"], row["checkins"], row["checkins_db"], row["spent"], row["unspent"]) == (
        3, 3, 2, 2, 2, 1)
    candidates = get_snapshot(election).data["candidates"]
    assert [(c["ledger"], c["official"]) for c in candidates["rows"]] == [(1, None), (1, None)]
    contracts = get_snapshot(election).data["contracts"]
    assert {c["id"] for c in contracts} >= {"vote", "system"} and all(c["state"] == "match" for c in contracts)


def test_more_votes_than_check_ins_is_flagged(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    keys = put_on_ledger(official, election, station, now)
    check_in(official, election, station, now)
    vote(transport, election, keys[0])
    assert codes(election) == []
    vote(transport, election, keys[1])  # a second vote with a token nobody checked in for
    assert codes(election) == ["votes_exceed_checkins"]
    row = station_row(election, station.code)
    assert row["flags"] == ["votes_exceed_checkins"] and (row["spent"], row["checkins"]) == (2, 1)


def test_check_ins_only_on_the_ledger_are_flagged(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    put_on_ledger(official, election, station, now)
    check_in(official, election, station, now)
    assert codes(election) == []
    # A check-in the authority wrote to the ledger without any poll worker's record behind it.
    get_gateway().check_in(election=election.ledger_id, station=station.code,
                           checkin_id=hashlib.sha256(b"phantom").hexdigest())
    assert codes(election) == ["checkins_mismatch"]
    snapshot = get_snapshot(election).to_dict()
    finding = next(a for a in snapshot["anomalies"] if a["code"] == "checkins_mismatch")
    assert finding["detail"] == {"station": station.code, "chain": 2, "db": 1, "pending": 0}


def test_a_check_in_still_being_written_is_not_a_mismatch(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    put_on_ledger(official, election, station, now)
    check_in(official, election, station, now)
    # The moment between the ledger commit and the database update of a check-in.
    election.checkins.update(ledger_state="pending")
    assert codes(election) == []
    transport.offline = True  # a check-in the database holds but the ledger lost would be flagged once readable
    assert codes(election) == ["ledger_unavailable"]


def test_a_published_result_that_differs_from_the_ledger_is_flagged(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    keys = put_on_ledger(official, election, station, now)
    check_in(official, election, station, now)
    vote(transport, election, keys[0], 2)
    close_election(official, election, timezone.now(), confirm_early=True)
    tally_election(official, election, timezone.now())
    election.refresh_from_db()
    rows = get_snapshot(election).data["candidates"]["rows"]
    assert [(r["ledger"], r["recount"], r["official"]) for r in rows] == [(0, 0, 0), (1, 1, 1)]
    assert codes(election) == []
    tally = ElectionTally.objects.get(election=election)
    tally.ledger_tally = {**tally.ledger_tally, "candidates": {"c1": 1, "c2": 0}}  # the stored result was altered
    tally.save()
    assert codes(election) == ["result_mismatch", "result_mismatch"]
    assert [r["flags"] for r in get_snapshot(election).data["candidates"]["rows"]] == [["result_mismatch"]] * 2


def test_mobile_tokens_minted_beyond_the_credentials_issued_are_flagged(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    """An election with a credential key, created on chain by hand (the mobile app does this in production)."""
    authority = get_gateway().authority_key
    signer = blindrsa.generate_private_key(2048)
    chain, lid = transport.get_chain_id(), election.ledger_id
    create = {"election": lid, "title": election.title, "opens_at": 0, "closes_at": 4_000_000_000_000,
              "candidates": [{"id": c.ledger_id, "name": c.name} for c in election.candidates.all()],
              "credential_key": blindrsa.public_key_der(signer.public_key()).hex()}
    setup = [make_tx(authority, chain=chain, contract="vote", type=t, payload=p) for t, p in (
        ("create", create), ("register", {"election": lid, "station": CREDENTIAL_STATION, "voters": 5}),
        ("open", {"election": lid}))]
    assert all(o.committed for o in transport.commit(setup, 5))
    Election.objects.filter(pk=election.pk).update(status="open")
    election.refresh_from_db()
    VoterRollEntry.objects.create(election=election, roll_number="M1", name="n", birth_date="1980-01-01",
                                  station=station, status=VoterRollEntry.Status.CREDENTIAL_ISSUED)
    phones = [PrivateKey.generate() for _ in range(2)]
    for phone in phones:
        credential = issue_credential(signer, chain, lid, phone.address)
        tx = make_tx(phone, chain=chain, contract="vote", type="mint_credential",
                     payload={"election": lid, "station": CREDENTIAL_STATION, "address": phone.address,
                              "credential": credential})
        assert transport.commit([tx], 5)[0].committed
    vote(transport, election, phones[0])
    mobile = get_snapshot(election).data["mobile"]
    assert (mobile["issued"], mobile["minted"], mobile["voted"]) == (1, 2, 1)
    assert "mobile_minted_exceeds_issued" in codes(election)
    assert CREDENTIAL_STATION not in {r["code"] for r in get_snapshot(election).data["stations"]["rows"]}


def test_a_contract_pinned_with_another_source_hash_is_flagged(
    official: User, election: Election, transport: InProcessTransport,
) -> None:
    pins = tuple(ContractPin(p.id, "0" * 64) if p.id == "vote" else p for p in transport.genesis.contracts)
    transport.genesis = replace(transport.genesis, contracts=pins)
    transport.ledger = Ledger(transport.genesis)
    snapshot = get_snapshot(election)
    assert "contract_pin_mismatch" in [a.code.value for a in snapshot.anomalies]
    row = next(c for c in snapshot.data["contracts"] if c["id"] == "vote")
    assert row["state"] == "mismatch" and row["pinned"] == "0" * 64


def test_the_site_facts_take_a_fixed_number_of_queries(
    official: User, election: Election, station: PollingStation, transport: InProcessTransport, now: datetime,
    django_assert_num_queries: Any,
) -> None:
    from audit.selectors.site_facts import get_site_facts

    put_on_ledger(official, election, station, now, voters=30)
    for _ in range(3):
        check_in(official, election, station, now)
    with django_assert_num_queries(6):
        facts = get_site_facts(election)
    assert facts.checkins == {station.code: {"committed": 3, "pending": 0}} and facts.roll_stations == {station.code}
