"""The whole mobile flow through the real API views with the reference client (in-process ledger)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User

from clients.evote_mobile import ClientError
from mobile_api.models import DeviceSession
from voting.models import PollingStation, Region, VoterRollEntry
from voting.services.elections import CandidateDraft, open_election, schedule_election
from voting.services.roll import import_roll
from voting.services.tokens import issue_tokens

from tests.voting.factories import make_election, make_kiosk, roll_rows, to_csv
from tests.voting.inprocess_ledger import InProcessTransport

from .harness import MobileElection, make_client, read_last_code

pytestmark = pytest.mark.django_db


def test_voters_vote_by_phone_and_the_ledger_counts_them(mobile: MobileElection, transport: InProcessTransport) -> None:
    client = make_client()
    ledger_id = mobile.election.ledger_id
    choices = ["c1", "c2", "c1"]
    receipts = []
    for voter, candidate in zip(mobile.voters, choices):
        receipts.append(client.vote_flow(ledger_id, voter.phone, voter.birth_date, [candidate],
                                         lambda v=voter: read_last_code(v.phone)))
    tally = transport.query("vote", "tally", {"election": ledger_id})
    assert tally["candidates"] == {"c1": 2, "c2": 1}
    assert tally["stations"]["mobile"]["minted"] == 3
    assert tally["stations"]["mobile"]["spent"] == 3
    assert tally["stations"]["mobile"]["registered"] == len(mobile.voters)
    statuses = VoterRollEntry.objects.filter(pk__in=[v.entry_id for v in mobile.voters]).values_list("status", flat=True)
    assert sorted(statuses) == ["credential_issued"] * 3 + ["eligible"]
    for receipt in receipts:
        status = client.status(receipt.vote_tracking_code)
        assert status["status"] == "final" and status["height"] == receipt.height
        assert "to" not in status and "candidate" not in str(status)


def test_elections_list_offers_the_ledger_key_and_derivable_candidate_addresses(
    mobile: MobileElection, transport: InProcessTransport,
) -> None:
    (listed,) = make_client().list_elections()  # the client re-derives every candidate address
    record = transport.query("vote", "election", {"election": mobile.election.ledger_id})
    assert listed["credential_key"] == record["credential_key"]
    assert listed["chain"] == transport.get_chain_id()
    assert listed["status"] == "open" and listed["choices"] == 1
    assert [c["id"] for c in listed["candidates"]] == ["c1", "c2"]


def test_a_session_gets_exactly_one_signature(mobile: MobileElection) -> None:
    client = make_client()
    voter = mobile.voters[0]
    election = client.get_election(mobile.election.ledger_id)
    session = client.verify_code(client.request_code(election["id"], voter.phone, voter.birth_date),
                                 read_last_code(voter.phone))
    first = client.obtain_credential(election, session)
    retry = client._call("POST", "credential", {"blinded_msg": first.blinded_msg.hex()},
                         {"Authorization": f"Bearer {session}"})
    again = client._call("POST", "credential", {"blinded_msg": first.blinded_msg.hex()},
                         {"Authorization": f"Bearer {session}"})
    assert retry == again  # idempotent retry: the same blind signature
    with pytest.raises(ClientError) as refused:
        client.obtain_credential(election, session)  # a new key = a different blinded message
    assert refused.value.code == "credential_already_issued"
    assert DeviceSession.objects.get().blinded_sha256 != ""


def test_an_approval_ballot_marks_up_to_k_candidates(
    official: User, suwon: Region, station: PollingStation, transport: InProcessTransport, now: datetime,
) -> None:
    election = make_election(official, suwon, now, kind="approval", max_choices=2, mobile_voting=True, candidates=(
        CandidateDraft("Kim"), CandidateDraft("Lee"), CandidateDraft("Park")))
    import_roll(official, election, file_name="roll.csv", data=to_csv(roll_rows(2, [station.code])), now=now)
    schedule_election(official, election, now)
    make_kiosk(station, official)
    issue_tokens(official, election, station, now=now)
    open_election(official, election, now)
    phone, birth = roll_rows(1, [station.code])[0][4], roll_rows(1, [station.code])[0][2]
    client = make_client()
    assert client.get_election(election.ledger_id)["choices"] == 2
    client.vote_flow(election.ledger_id, phone, birth, ["c3", "c1"], lambda: read_last_code(phone))
    tally = transport.query("vote", "tally", {"election": election.ledger_id})
    assert tally["candidates"] == {"c1": 1, "c2": 0, "c3": 1} and tally["unused"] == 0
