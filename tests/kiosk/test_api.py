"""The booth API against the real vote contract (in-process ledger): auth, scan errors, submission, retries."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core.contracts.vote import candidate_address
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx
from tests.voting.factories import make_election
from tests.voting.inprocess_ledger import InProcessTransport
from voting.models import Region
from voting.services.elections import close_election
from voting.services.stations import revoke_kiosk

from .support import Booth, KioskClient, card_address, setup_booth, sign_vote

pytestmark = pytest.mark.django_db


def tally(transport: InProcessTransport, booth: Booth) -> dict[str, Any]:
    return transport.query("vote", "tally", {"election": booth.election.ledger_id})  # type: ignore[no-any-return]


def body(response: Any) -> dict[str, Any]:
    return json.loads(response.content)  # type: ignore[no-any-return]


# --- device authentication -------------------------------------------------------------------


def test_api_refuses_an_unpaired_device(booth: Booth) -> None:
    response = KioskClient(None).get("/kiosk/api/session")
    assert response.status_code == 401
    assert body(response)["code"] == "kiosk_not_paired"


def test_api_refuses_an_unknown_credential(booth: Booth) -> None:
    response = KioskClient("kiosk_not-a-real-credential").get("/kiosk/api/session")
    assert response.status_code == 401
    assert body(response)["code"] == "kiosk_unknown"


def test_revoked_kiosk_can_no_longer_check_or_submit(booth: Booth, official: User, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    revoke_kiosk(official, booth.election, booth.kiosk, timezone.now())
    raw, _ = sign_vote(booth.cards[booth.station][0], transport.get_chain_id(), booth.election.ledger_id,
                       booth.candidates[0].ledger_address)
    response = client.vote(raw)
    assert (response.status_code, body(response)["code"]) == (403, "kiosk_revoked")
    assert tally(transport, booth)["totals"]["spent"] == 0
    page = client.get("/kiosk/")
    assert b'name="credential"' in page.content and b'id="pair-reason"' in page.content


def test_writes_need_the_csrf_token(booth: Booth, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    raw, _ = sign_vote(booth.cards[booth.station][0], transport.get_chain_id(), booth.election.ledger_id,
                       booth.candidates[0].ledger_address)
    response = client.post_raw("/kiosk/api/votes", raw, csrf=False)
    assert (response.status_code, body(response)["code"]) == (403, "csrf_failed")
    assert tally(transport, booth)["totals"]["spent"] == 0


def test_pairing_stores_the_credential_in_a_strict_http_only_cookie(booth: Booth) -> None:
    client = KioskClient(None)
    wrong = client.client.post("/kiosk/pair/", {"credential": "kiosk_wrong", "csrfmiddlewaretoken": client.csrf})
    assert wrong.status_code == 400 and "evote_kiosk" not in wrong.cookies
    response = client.client.post("/kiosk/pair/", {"credential": booth.credential, "csrfmiddlewaretoken": client.csrf})
    assert response.status_code == 302
    cookie = response.cookies["evote_kiosk"]
    assert cookie.value == booth.credential
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["secure"]  # DEBUG is off in tests
    assert client.get("/kiosk/api/session").status_code == 200


def test_pairing_form_is_csrf_protected(booth: Booth) -> None:
    client = KioskClient(None)
    response = client.client.post("/kiosk/pair/", {"credential": booth.credential})
    assert response.status_code == 403 and "evote_kiosk" not in response.cookies


# --- session --------------------------------------------------------------------------------------


def test_session_describes_the_station_election_and_candidate_addresses(booth: Booth, transport: InProcessTransport) -> None:
    data = body(KioskClient(booth.credential).get("/kiosk/api/session"))
    assert data["chain"] == transport.get_chain_id()
    assert data["kiosk"]["station"]["code"] == "suwon-1"
    (election,) = data["elections"]
    assert election["id"] == booth.election.ledger_id and election["choices"] == 1
    assert [c["address"] for c in election["candidates"]] == [
        candidate_address(booth.election.ledger_id, f"c{i}") for i in (1, 2)
    ]


# --- scan errors ------------------------------------------------------------------------------------


def test_a_fresh_card_of_this_station_is_accepted(booth: Booth, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    response = client.check(booth.election.ledger_id, card_address(booth.cards["suwon-1"][0]), transport.get_chain_id())
    assert response.status_code == 200
    assert body(response) == {"status": "ok", "election": booth.election.ledger_id, "units": 1}


def test_scan_errors_each_have_their_own_code(
    booth: Booth, transport: InProcessTransport, official: User, suwon: Region, now: datetime,
) -> None:
    client = KioskClient(booth.credential)
    ledger_id, chain = booth.election.ledger_id, transport.get_chain_id()
    spent_card = booth.cards["suwon-1"][1]
    raw, _ = sign_vote(spent_card, chain, ledger_id, booth.candidates[0].ledger_address)
    assert client.vote(raw).status_code == 200

    later = make_election(official, suwon, now, title="Later", opens_at=now + timedelta(days=1),
                          closes_at=now + timedelta(days=2))
    cases = {
        "token_unknown": (ledger_id, PrivateKey.generate().address, chain),
        "token_spent": (ledger_id, card_address(spent_card), chain),
        "token_wrong_station": (ledger_id, card_address(booth.cards["yongin-1"][0]), chain),
        "token_wrong_election": ("e0000000000", card_address(booth.cards["suwon-1"][0]), chain),
        "election_not_open": (later.ledger_id, card_address(booth.cards["suwon-1"][0]), chain),
    }
    codes = {}
    for expected, (election, address, card_chain) in cases.items():
        response = client.check(election, address, card_chain)
        codes[expected] = (response.status_code, body(response)["code"])
    assert {name: code for name, (_, code) in codes.items()} == {name: name for name in cases}
    assert all(status in (404, 409) for status, _ in codes.values())
    foreign_chain = client.check(ledger_id, card_address(booth.cards["suwon-1"][0]), "another-chain")
    assert body(foreign_chain)["code"] == "token_wrong_election"
    assert tally(transport, booth)["totals"]["spent"] == 1  # checking changed nothing


def test_cards_of_a_closed_election_are_refused(booth: Booth, transport: InProcessTransport, official: User) -> None:
    close_election(official, booth.election, timezone.now(), confirm_early=True)
    client = KioskClient(booth.credential)
    response = client.check(booth.election.ledger_id, card_address(booth.cards["suwon-1"][0]))
    assert (response.status_code, body(response)["code"]) == (409, "election_closed")
    raw, _ = sign_vote(booth.cards["suwon-1"][0], transport.get_chain_id(), booth.election.ledger_id,
                       booth.candidates[0].ledger_address)
    assert body(client.vote(raw))["code"] == "election_closed"


@pytest.mark.parametrize("address", ["", "XYZ", "ab" * 19, "AB" * 20, 12, None])
def test_token_check_refuses_malformed_addresses(booth: Booth, address: Any) -> None:
    response = KioskClient(booth.credential).post_json(
        "/kiosk/api/token-check", {"election": booth.election.ledger_id, "address": address})
    assert (response.status_code, body(response)["code"]) == (400, "invalid_input")


# --- submission ---------------------------------------------------------------------------------------


def test_a_valid_vote_is_recorded_with_its_tracking_code(booth: Booth, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    raw, tx_id = sign_vote(booth.cards["suwon-1"][0], transport.get_chain_id(), booth.election.ledger_id,
                           booth.candidates[1].ledger_address)
    response = client.vote(raw)
    assert response.status_code == 200
    receipt = body(response)
    assert receipt["status"] == "recorded" and receipt["tracking_code"] == tx_id
    assert receipt["height"] == transport.ledger.height
    assert tally(transport, booth)["candidates"] == {"c1": 0, "c2": 1}
    status = body(client.get(f"/kiosk/api/votes/{tx_id}"))
    assert status["status"] == "committed" and status["height"] == receipt["height"]


def test_resubmitting_the_same_vote_is_success_and_counts_once(booth: Booth, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    raw, tx_id = sign_vote(booth.cards["suwon-1"][0], transport.get_chain_id(), booth.election.ledger_id,
                           booth.candidates[0].ledger_address)
    first, again = client.vote(raw), client.vote(raw)
    assert first.status_code == again.status_code == 200
    assert body(first)["tracking_code"] == body(again)["tracking_code"] == tx_id
    assert body(again)["height"] == body(first)["height"]
    assert tally(transport, booth)["candidates"] == {"c1": 1, "c2": 0}


def test_a_second_different_vote_from_the_same_card_is_refused(booth: Booth, transport: InProcessTransport) -> None:
    client = KioskClient(booth.credential)
    card, chain, ledger_id = booth.cards["suwon-1"][0], transport.get_chain_id(), booth.election.ledger_id
    assert client.vote(sign_vote(card, chain, ledger_id, booth.candidates[0].ledger_address)[0]).status_code == 200
    response = client.vote(sign_vote(card, chain, ledger_id, booth.candidates[1].ledger_address, nonce=1)[0])
    assert (response.status_code, body(response)["code"]) == (409, "token_already_spent")
    assert tally(transport, booth)["candidates"] == {"c1": 1, "c2": 0}


def _tx(booth: Booth, transport: InProcessTransport, **changes: Any) -> bytes:
    from voting.cards import parse_card_payload

    _payload, key = parse_card_payload(booth.cards["suwon-1"][0])
    fields: dict[str, Any] = {"chain": transport.get_chain_id(), "contract": "vote", "type": "transfer",
                              "payload": {"election": booth.election.ledger_id, "to": booth.candidates[0].ledger_address}}
    fields.update(changes)
    return make_tx(key, **fields).to_bytes()


def _tampered(raw: bytes) -> bytes:
    tx = json.loads(raw)
    tx["sig"] = ("0" if tx["sig"][0] != "0" else "1") + tx["sig"][1:]
    return json.dumps(tx, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(("build", "status", "code"), [
    (lambda b, t: b"not json", 400, "tx_malformed"),
    (lambda b, t: b'{"chain": "x"}', 400, "tx_malformed"),
    (lambda b, t: json.dumps(json.loads(_tx(b, t)), indent=1).encode(), 400, "tx_malformed"),
    (lambda b, t: _tx(b, t, chain="another-chain"), 400, "tx_wrong_chain"),
    (lambda b, t: _tx(b, t, contract="system"), 400, "tx_wrong_contract"),
    (lambda b, t: _tx(b, t, type="mint"), 400, "tx_wrong_type"),
    (lambda b, t: _tx(b, t, payload={"election": "e0000000000", "to": "00" * 20}), 403, "election_not_served"),
    (lambda b, t: _tx(b, t, payload={"election": b.election.ledger_id, "to": "00" * 20}), 409, "wrong_candidate"),
    (lambda b, t: _tampered(_tx(b, t)), 409, "signature_invalid"),
])
def test_submission_validation(booth: Booth, transport: InProcessTransport, build: Any, status: int, code: str) -> None:
    response = KioskClient(booth.credential).vote(build(booth, transport))
    assert (response.status_code, body(response)["code"]) == (status, code)
    assert tally(transport, booth)["totals"]["spent"] == 0


def test_an_unreachable_ledger_gives_a_retryable_code_and_records_nothing(
    booth: Booth, transport: InProcessTransport,
) -> None:
    client = KioskClient(booth.credential)
    raw, tx_id = sign_vote(booth.cards["suwon-1"][0], transport.get_chain_id(), booth.election.ledger_id,
                           booth.candidates[0].ledger_address)
    transport.offline = True
    response = client.vote(raw)
    assert response.status_code == 503
    assert body(response)["code"] == "vote_not_confirmed" and body(response)["detail"]["retryable"] == 1
    check = client.check(booth.election.ledger_id, card_address(booth.cards["suwon-1"][0]))
    assert (check.status_code, body(check)["code"]) == (503, "ledger_unavailable")
    transport.offline = False
    assert transport.tx_status(tx_id).status == "unknown"
    assert tally(transport, booth)["totals"]["spent"] == 0
    retried = client.vote(raw)  # the kiosk resends the very same bytes
    assert retried.status_code == 200 and body(retried)["tracking_code"] == tx_id


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(garbage=st.binary(max_size=300))
def test_arbitrary_bytes_never_record_a_vote_or_fail_with_a_500(booth: Booth, transport: InProcessTransport,
                                                                garbage: bytes) -> None:
    response = KioskClient(booth.credential).vote(garbage)
    assert response.status_code in (400, 403, 409)
    assert isinstance(body(response)["code"], str)
    assert tally(transport, booth)["totals"]["spent"] == 0


def test_approval_ballot_marks_are_sent_in_ascending_address_order(
    official: User, suwon: Region, station: Any, transport: InProcessTransport, now: datetime,
) -> None:
    from tests.voting.factories import make_draft
    from voting.services.elections import CandidateDraft, create_election

    draft = make_draft(suwon, now, kind="approval", max_choices=2, candidates=tuple(
        CandidateDraft(name, "") for name in ("Kim", "Lee", "Park")))
    approval = create_election(official, draft, now)
    booth = setup_booth(official, approval, {station: 2}, now)
    client = KioskClient(booth.credential)
    assert body(client.get("/kiosk/api/session"))["elections"][0]["choices"] == 2
    addresses = sorted(c.ledger_address for c in booth.candidates)[:2]
    chain, ledger_id = transport.get_chain_id(), approval.ledger_id
    descending = client.vote(sign_vote(booth.cards["suwon-1"][0], chain, ledger_id, addresses[::-1])[0])
    assert body(descending)["code"] == "malformed"
    assert client.vote(sign_vote(booth.cards["suwon-1"][0], chain, ledger_id, addresses)[0]).status_code == 200
    assert client.vote(sign_vote(booth.cards["suwon-1"][1], chain, ledger_id, [])[0]).status_code == 200  # blank
    counts = transport.query("vote", "tally", {"election": ledger_id})
    assert sum(counts["candidates"].values()) == 2 and counts["unused"] == 2


# --- secrecy ----------------------------------------------------------------------------------------


def test_a_full_vote_logs_neither_the_key_nor_the_ballot(
    booth: Booth, transport: InProcessTransport, caplog: pytest.LogCaptureFixture,
) -> None:
    card = booth.cards["suwon-1"][0]
    secret_text = card.split("~")[3]
    from voting.cards import parse_card_payload

    key = parse_card_payload(card)[1]
    caplog.set_level(logging.DEBUG)
    client = KioskClient(booth.credential)
    client.get("/kiosk/api/session")
    client.check(booth.election.ledger_id, key.address, transport.get_chain_id())
    raw, tx_id = sign_vote(card, transport.get_chain_id(), booth.election.ledger_id, booth.candidates[0].ledger_address)
    transport.offline = True
    client.vote(raw)  # a failed attempt logs a warning: it must not carry the vote either
    transport.offline = False
    client.vote(raw)
    client.get(f"/api/v1/track/{tx_id}")
    client.get(f"/track/{tx_id}/")
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    assert caplog.records  # something was logged, so the search below means something
    for secret in (secret_text, key.secret_bytes().hex(), card, raw.decode(), tx_id, key.address,
                   booth.candidates[0].ledger_address):
        assert secret not in logged
