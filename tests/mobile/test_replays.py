"""Everything a voter or attacker may replay or combine is refused: credentials, mints, votes, check-ins."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from clients.evote_mobile import (
    ClientError,
    Credential,
    MobileVotingClient,
    TokenKey,
    blind,
    build_ballot,
    build_tx,
    load_credential_key,
)
from ledger.core.contracts.vote import credential_message
from mobile_api import clock
from mobile_api.models import DeviceSession
from voting.errors import VoterHasMobileCredential
from voting.models import PollingStation, Region, VoterRollEntry
from voting.services.checkin import check_in_voter

from tests.voting.inprocess_ledger import InProcessTransport

from .harness import MobileElection, Voter, build_mobile_election, make_client, read_last_code

pytestmark = pytest.mark.django_db


def get_session(client: MobileVotingClient, mobile: MobileElection, voter: Voter) -> str:
    challenge = client.request_code(mobile.election.ledger_id, voter.phone, voter.birth_date)
    return client.verify_code(challenge, read_last_code(voter.phone))


def get_credential(client: MobileVotingClient, mobile: MobileElection, voter: Voter) -> Credential:
    election = client.get_election(mobile.election.ledger_id)
    return client.obtain_credential(election, get_session(client, mobile, voter))


def refusal(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.status, refused.value.code


def test_a_second_credential_for_the_same_voter_is_refused(mobile: MobileElection) -> None:
    client = make_client()
    get_credential(client, mobile, mobile.voters[0])
    assert refusal(lambda: get_credential(client, mobile, mobile.voters[0])) == (409, "credential_already_issued")


def test_a_replayed_mint_counts_once_and_a_reused_credential_is_refused(
    mobile: MobileElection, transport: InProcessTransport,
) -> None:
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    first = client.mint(credential)
    again = client.mint(credential)  # the very same transaction resent (a lost answer): same outcome
    assert again["tracking_code"] == first["tracking_code"]
    election = credential.election
    tx, _ = build_tx(credential.key, chain=election["chain"], tx_type="mint_credential", nonce=1, payload={
        "election": election["id"], "station": "mobile", "address": credential.key.address,
        "credential": credential.credential.hex()})
    assert refusal(lambda: client._call("POST", "mint", {"tx": tx})) == (409, "credential_already_used")
    thief = Credential(election, type(credential.key)(), credential.credential)  # another key, same credential
    assert refusal(lambda: client.mint(thief)) == (409, "credential_invalid")
    tally = transport.query("vote", "tally", {"election": election["id"]})
    assert tally["stations"]["mobile"]["minted"] == 1


def test_a_token_votes_once(mobile: MobileElection) -> None:
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    client.mint(credential)
    client.vote(credential, ["c1"])
    assert refusal(lambda: client.vote(credential, ["c2"])) == (409, "token_already_spent")


def test_a_credential_from_another_election_is_refused(
    mobile: MobileElection, official: User, suwon: Region, station: PollingStation, now: datetime,
) -> None:
    other = build_mobile_election(official, suwon, station, now, voters=2, start=101, title="District council")
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    elsewhere = Credential(client.get_election(other.election.ledger_id), credential.key, credential.credential)
    assert refusal(lambda: client.mint(elsewhere)) == (409, "credential_invalid")


def test_a_voter_who_checked_in_gets_no_credential(mobile: MobileElection, official: User, now: datetime) -> None:
    voter = mobile.voters[1]
    check_in_voter(official, mobile.election, mobile.station, voter.entry_id, now=now)
    client = make_client()
    assert refusal(lambda: get_credential(client, mobile, voter)) == (409, "voter_checked_in")
    assert VoterRollEntry.objects.get(pk=voter.entry_id).status == "checked_in"


def test_a_voter_with_a_credential_cannot_check_in(mobile: MobileElection, official: User, now: datetime) -> None:
    voter = mobile.voters[2]
    get_credential(make_client(), mobile, voter)
    with pytest.raises(VoterHasMobileCredential):
        check_in_voter(official, mobile.election, mobile.station, voter.entry_id, now=now)
    assert VoterRollEntry.objects.get(pk=voter.entry_id).status == "credential_issued"


def test_a_session_opened_before_check_in_is_refused_after_it(mobile: MobileElection, official: User,
                                                              now: datetime) -> None:
    """The race: code verified on the phone, then the voter checks in at a station before asking to sign."""
    client = make_client()
    voter = mobile.voters[3]
    election = client.get_election(mobile.election.ledger_id)
    session = get_session(client, mobile, voter)
    check_in_voter(official, mobile.election, mobile.station, voter.entry_id, now=now)
    assert refusal(lambda: client.obtain_credential(election, session)) == (409, "voter_checked_in")


def test_sessions_expire_and_are_required(mobile: MobileElection, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client()
    election = client.get_election(mobile.election.ledger_id)
    session = get_session(client, mobile, mobile.voters[0])
    assert refusal(lambda: client._call("POST", "credential", {"blinded_msg": "00"})) == (401, "session_invalid")
    assert refusal(lambda: client._call("POST", "credential", {"blinded_msg": "00"},
                                        {"Authorization": "Bearer nope"})) == (401, "session_invalid")
    later = timezone.now() + timedelta(seconds=601)
    monkeypatch.setattr(clock, "get_now", lambda: later)
    assert refusal(lambda: client.obtain_credential(election, session)) == (401, "session_invalid")
    assert VoterRollEntry.objects.get(pk=mobile.voters[0].entry_id).status == "eligible"


def test_a_blinded_message_outside_the_key_is_refused(mobile: MobileElection) -> None:
    client = make_client()
    session = get_session(client, mobile, mobile.voters[0])
    bearer = {"Authorization": f"Bearer {session}"}
    for blinded in ("00" * 10, "ff" * 256):  # wrong length; not below the modulus
        assert refusal(lambda b=blinded: client._call("POST", "credential", {"blinded_msg": b}, bearer)) == (
            400, "blinded_msg_invalid")
    assert VoterRollEntry.objects.get(pk=mobile.voters[0].entry_id).status == "eligible"


def test_mint_and_vote_refuse_a_request_that_carries_the_session(mobile: MobileElection) -> None:
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    election = credential.election
    tx, _ = build_tx(credential.key, chain=election["chain"], tx_type="mint_credential", payload={
        "election": election["id"], "station": "mobile", "address": credential.key.address,
        "credential": credential.credential.hex()})
    for endpoint in ("mint", "vote"):
        assert refusal(lambda e=endpoint: client._call("POST", e, {"tx": tx}, {"Authorization": "Bearer x"})) == (
            400, "session_not_allowed")


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda tx: {**tx, "type": "transfer"}, "wrong_type"),
    (lambda tx: {**tx, "chain": "another-chain"}, "wrong_chain"),
    (lambda tx: {**tx, "sig": ("0" if tx["sig"][0] != "0" else "1") + tx["sig"][1:]}, None),
    (lambda tx: {**tx, "nonce": 1.5}, "malformed"),
    (lambda tx: {k: v for k, v in tx.items() if k != "signer"}, "malformed"),
])
def test_malformed_or_foreign_mints_are_refused_before_the_ledger(mobile: MobileElection, mutate: Any,
                                                                  reason: str | None) -> None:
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    election = credential.election
    tx, _ = build_tx(credential.key, chain=election["chain"], tx_type="mint_credential", payload={
        "election": election["id"], "station": "mobile", "address": credential.key.address,
        "credential": credential.credential.hex()})
    with pytest.raises(ClientError) as refused:
        client._call("POST", "mint", {"tx": mutate(tx)})
    assert refused.value.code == "tx_invalid" and refused.value.status == 400
    assert reason is None or refused.value.detail["reason"] == reason


def test_an_unreachable_ledger_is_a_retryable_503_and_the_retry_succeeds(
    mobile: MobileElection, transport: InProcessTransport,
) -> None:
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    transport.offline = True
    assert refusal(lambda: client.mint(credential)) == (503, "ledger_unavailable")
    transport.offline = False
    assert client.mint(credential)["status"] == "committed"


def test_a_phone_that_lost_its_session_gets_the_same_signature_for_the_same_blinded_message(
    mobile: MobileElection, transport: InProcessTransport,
) -> None:
    """The page was reloaded while ``credential`` was in flight: the server signed, the phone never heard.

    The phone kept the blinded message (and its key and blinding secret) on the device, but not
    the session; it verifies again by SMS and resends the same blinded message. It must get the
    very same blind signature (so it can finish), and nothing that was not issued before.
    """
    client = make_client()
    voter = mobile.voters[0]
    election = client.get_election(mobile.election.ledger_id)
    state = blind(load_credential_key(election["credential_key"]),
                  credential_message(election["chain"], election["id"], TokenKey().address))
    body = {"blinded_msg": state.blinded_msg.hex()}
    lost = client._call("POST", "credential", body, {"Authorization": f"Bearer {get_session(client, mobile, voter)}"})
    again = client._call("POST", "credential", body, {"Authorization": f"Bearer {get_session(client, mobile, voter)}"})
    assert again == lost
    other = blind(load_credential_key(election["credential_key"]),
                  credential_message(election["chain"], election["id"], TokenKey().address))
    assert refusal(lambda: client._call("POST", "credential", {"blinded_msg": other.blinded_msg.hex()},
                                        {"Authorization": f"Bearer {get_session(client, mobile, voter)}"})) == (
        409, "credential_already_issued")
    assert VoterRollEntry.objects.get(pk=voter.entry_id).status == "credential_issued"


def test_another_voters_blinded_message_is_not_reissued(mobile: MobileElection) -> None:
    """Re-issuing is per roll entry: a second voter replaying someone's blinded message gets a fresh claim."""
    client = make_client()
    first, second = mobile.voters[0], mobile.voters[1]
    election = client.get_election(mobile.election.ledger_id)
    state = blind(load_credential_key(election["credential_key"]),
                  credential_message(election["chain"], election["id"], TokenKey().address))
    body = {"blinded_msg": state.blinded_msg.hex()}
    client._call("POST", "credential", body, {"Authorization": f"Bearer {get_session(client, mobile, first)}"})
    client._call("POST", "credential", body, {"Authorization": f"Bearer {get_session(client, mobile, second)}"})
    statuses = VoterRollEntry.objects.filter(pk__in=[first.entry_id, second.entry_id]).values_list("status", flat=True)
    assert list(statuses) == ["credential_issued", "credential_issued"]  # each claim counted once, on its own entry
    assert DeviceSession.objects.filter(blinded_sha256=hashlib.sha256(state.blinded_msg).hexdigest()).count() == 2


def test_the_same_signed_mint_and_vote_resent_succeed_with_the_same_codes_and_count_once(
    mobile: MobileElection, transport: InProcessTransport,
) -> None:
    """What a phone does after a lost answer or a reload: resend the bytes it stored, in any order of steps."""
    client = make_client()
    credential = get_credential(client, mobile, mobile.voters[0])
    election = credential.election
    mint_tx, mint_id = build_tx(credential.key, chain=election["chain"], tx_type="mint_credential", payload={
        "election": election["id"], "station": "mobile", "address": credential.key.address,
        "credential": credential.credential.hex()})
    vote_tx, vote_id = build_tx(credential.key, chain=election["chain"], tx_type="transfer",
                                payload={"election": election["id"], "to": build_ballot(election, ["c2"])})
    answers = [client.submit("mint", mint_tx), client.submit("mint", mint_tx), client.submit("vote", vote_tx),
               client.submit("vote", vote_tx), client.submit("mint", mint_tx)]
    assert [a["tracking_code"] for a in answers] == [mint_id, mint_id, vote_id, vote_id, mint_id]
    assert all(a["status"] == "committed" and a["height"] is not None for a in answers)
    assert answers[1]["height"] == answers[0]["height"] and answers[3]["height"] == answers[2]["height"]
    tally = transport.query("vote", "tally", {"election": election["id"]})
    assert tally["candidates"] == {"c1": 0, "c2": 1}
    assert tally["stations"]["mobile"]["minted"] == 1 and tally["stations"]["mobile"]["spent"] == 1
