"""SMS one-time codes: same answer for numbers on and off the roll, hashed storage, expiry, attempts, single use."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core import serializers
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings, strategies as st

from mobile_api import clock, sms
from mobile_api.models import DeviceSession, OtpChallenge
from mobile_api.services.housekeeping import prune_expired

from clients.evote_mobile import extract_code

from .conftest import GENEROUS_RATES
from .harness import DjangoTransport, MobileElection, read_last_code

pytestmark = pytest.mark.django_db
URL = "/api/v1/mobile/"


def post(path: str, body: dict[str, Any], remote_addr: str = "198.51.100.1") -> tuple[int, Any]:
    return DjangoTransport(remote_addr)("POST", URL + path, body, {})


def request_code(mobile: MobileElection, phone: str, birth_date: str) -> tuple[int, Any]:
    return post("otp/request", {"election": mobile.election.ledger_id, "phone": phone, "birth_date": birth_date})


def shape(body: Any) -> tuple[Any, ...]:
    return tuple(sorted(body)), len(body["challenge"]), body["expires_in"]


def test_known_and_unknown_numbers_get_the_same_answer_and_only_the_known_one_an_sms(mobile: MobileElection) -> None:
    voter = mobile.voters[0]
    known = request_code(mobile, voter.phone, voter.birth_date)
    wrong_birth = request_code(mobile, voter.phone, "1900-01-01")
    unknown = request_code(mobile, "010-9999-8888", voter.birth_date)
    assert known[0] == wrong_birth[0] == unknown[0] == 202
    assert shape(known[1]) == shape(wrong_birth[1]) == shape(unknown[1]) == (("challenge", "expires_in"), 43, 300)
    assert [m.to for m in sms.outbox] == ["01000000001"]
    assert OtpChallenge.objects.count() == 3  # unknown numbers get a row too: verify behaves the same


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=st.from_regex(r"\A010[0-9]{8}\Z"), birth=st.dates(min_value=timezone.datetime(1900, 1, 1).date()))
def test_any_number_and_birth_date_gets_the_same_shape_of_answer(mobile: MobileElection, local: str, birth: Any) -> None:
    status, body = request_code(mobile, local, birth.isoformat())
    assert status == 202 and shape(body) == (("challenge", "expires_in"), 43, 300)


def test_a_challenge_for_an_unknown_number_never_verifies_and_counts_attempts_alike(mobile: MobileElection) -> None:
    voter = mobile.voters[0]
    _, unknown = request_code(mobile, "010-9999-8888", voter.birth_date)
    _, known = request_code(mobile, voter.phone, voter.birth_date)
    answers_unknown = [post("otp/verify", {"challenge": unknown["challenge"], "code": f"{n:08d}"}) for n in range(6)]
    answers_known = [post("otp/verify", {"challenge": known["challenge"], "code": f"{n:08d}"}) for n in range(6)
                     if f"{n:08d}" != read_last_code(voter.phone)][:6]
    codes = lambda answers: [(status, body["code"], body["detail"]) for status, body in answers]  # noqa: E731
    assert codes(answers_unknown) == codes(answers_known)
    assert codes(answers_unknown)[:5] == [
        (400, "otp_invalid", {"attempts_left": 4}), (400, "otp_invalid", {"attempts_left": 3}),
        (400, "otp_invalid", {"attempts_left": 2}), (400, "otp_invalid", {"attempts_left": 1}),
        (403, "otp_locked", {"attempts_left": 0}),
    ]
    assert codes(answers_unknown)[5][1] == "otp_locked"


def test_the_right_code_opens_one_session_and_cannot_be_reused(mobile: MobileElection) -> None:
    voter = mobile.voters[1]
    _, body = request_code(mobile, voter.phone, voter.birth_date)
    code = read_last_code(voter.phone)
    status, session = post("otp/verify", {"challenge": body["challenge"], "code": code})
    assert status == 200 and len(session["session"]) == 43 and session["expires_in"] == 600
    status, reused = post("otp/verify", {"challenge": body["challenge"], "code": code})
    assert (status, reused["code"]) == (409, "otp_used")
    assert DeviceSession.objects.filter(roll_entry_id=voter.entry_id).count() == 1


def test_the_right_code_after_the_lock_is_refused(mobile: MobileElection) -> None:
    voter = mobile.voters[1]
    _, body = request_code(mobile, voter.phone, voter.birth_date)
    code = read_last_code(voter.phone)
    wrong = "00000000" if code != "00000000" else "11111111"
    for _ in range(5):
        post("otp/verify", {"challenge": body["challenge"], "code": wrong})
    status, locked = post("otp/verify", {"challenge": body["challenge"], "code": code})
    assert (status, locked["code"]) == (403, "otp_locked")
    assert not DeviceSession.objects.exists()


def test_an_expired_code_is_refused(mobile: MobileElection, monkeypatch: pytest.MonkeyPatch) -> None:
    voter = mobile.voters[2]
    _, body = request_code(mobile, voter.phone, voter.birth_date)
    code = read_last_code(voter.phone)
    later = timezone.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "get_now", lambda: later)
    status, expired = post("otp/verify", {"challenge": body["challenge"], "code": code})
    assert (status, expired["code"]) == (410, "otp_expired")
    assert not DeviceSession.objects.exists()


def test_an_unknown_challenge_is_refused(mobile: MobileElection) -> None:
    status, body = post("otp/verify", {"challenge": "not-a-challenge", "code": "12345678"})
    assert (status, body["code"]) == (404, "otp_challenge_unknown")


def test_codes_are_random_and_stored_only_as_keyed_hashes(mobile: MobileElection, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    voter = mobile.voters[0]
    for _ in range(20):
        request_code(mobile, voter.phone, voter.birth_date)
    sent = {extract_code(message.text) for message in sms.outbox}
    assert len(sent) == 20 and all(len(code) == 8 and code.isdigit() for code in sent)
    dump = serializers.serialize("json", OtpChallenge.objects.all()) + caplog.text
    assert not any(code in dump for code in sent), "a code appears in the database or the logs"


def test_a_malformed_phone_number_is_invalid_input_not_a_challenge(mobile: MobileElection) -> None:
    status, body = request_code(mobile, "12345", "1980-01-01")
    assert (status, body["code"]) == (400, "invalid_input") and "phone" in body["detail"]
    assert not OtpChallenge.objects.exists()


def test_codes_for_an_election_without_mobile_voting_or_not_open_are_refused(mobile: MobileElection) -> None:
    status, body = post("otp/request", {"election": "e-nope", "phone": "010-0000-0001", "birth_date": "1951-02-02"})
    assert (status, body["code"]) == (404, "election_not_found")
    type(mobile.election).objects.filter(pk=mobile.election.pk).update(status="closed")
    status, body = request_code(mobile, mobile.voters[0].phone, mobile.voters[0].birth_date)
    assert (status, body["code"]) == (409, "election_not_open")
    assert not sms.outbox


def test_expired_challenges_and_sessions_are_pruned(mobile: MobileElection) -> None:
    voter = mobile.voters[0]
    _, body = request_code(mobile, voter.phone, voter.birth_date)
    post("otp/verify", {"challenge": body["challenge"], "code": read_last_code(voter.phone)})
    request_code(mobile, voter.phone, voter.birth_date)
    out = io.StringIO()
    call_command("prune_mobile_records", stdout=out)
    assert out.getvalue().strip() == "deleted 0 challenges and 0 sessions"
    pruned = prune_expired(timezone.now() + timedelta(minutes=30))
    assert (pruned.challenges, pruned.sessions) == (2, 1)
    assert not OtpChallenge.objects.exists() and not DeviceSession.objects.exists()


def test_a_cross_site_form_post_cannot_request_a_code(mobile: MobileElection) -> None:
    """HTML forms cannot send application/json: the API accepts nothing else, so no SMS can be forged."""
    voter = mobile.voters[0]
    form = {"election": mobile.election.ledger_id, "phone": voter.phone, "birth_date": voter.birth_date}
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"):
        response = Client().post(URL + "otp/request", data="&".join(f"{k}={v}" for k, v in form.items()),
                                 content_type=content_type)
        assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    assert not sms.outbox and not OtpChallenge.objects.exists()


def test_the_per_phone_limit_answers_alike_for_numbers_on_and_off_the_roll(
    mobile: MobileElection, settings: Any, mobile_test_settings: dict[str, Any],
) -> None:
    settings.MOBILE = {**mobile_test_settings, "THROTTLE_RATES": {**GENEROUS_RATES, "otp_phone": "2/hour"}}
    voter = mobile.voters[0]
    outcomes = {}
    for phone, birth in ((voter.phone, voter.birth_date), ("010-9999-8888", voter.birth_date)):
        answers = [request_code(mobile, phone, birth) for _ in range(3)]
        outcomes[phone] = [(status, sorted(body), body.get("code")) for status, body in answers]
    known, unknown = outcomes.values()
    assert known == unknown
    assert [status for status, _, _ in known] == [202, 202, 429] and known[2][2] == "otp_rate_limited"
    assert len(sms.outbox) == 2
