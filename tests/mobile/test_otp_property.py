"""A model of the code check, compared with the service for random sequences of guesses and clock moves.

Model: a challenge verifies once, only with the right code, only before it expires and before
``max`` wrong guesses; after success every further attempt is ``otp_used``; after the lock
``otp_locked``; after expiry ``otp_expired``. Hypothesis drives random sequences through
``mobile_api.services.otp`` and the outcome of every step must match the model.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings, strategies as st

from mobile_api.errors import MobileApiError
from mobile_api.models import DeviceSession
from mobile_api.services import otp

from .harness import MobileElection, read_last_code

pytestmark = pytest.mark.django_db
MAX_ATTEMPTS, TTL = 5, 300
steps = st.lists(st.one_of(
    st.tuples(st.just("guess"), st.booleans()),  # (guess, right code?)
    st.tuples(st.just("wait"), st.integers(min_value=0, max_value=200)),  # seconds
), max_size=12)


def expected(state: dict[str, Any], right: bool) -> str:
    if state["used"]:
        return "otp_used"
    if state["wrong"] >= MAX_ATTEMPTS:
        return "otp_locked"
    if state["elapsed"] >= TTL:
        return "otp_expired"
    if right:
        state["used"] = True
        return "ok"
    state["wrong"] += 1
    return "otp_locked" if state["wrong"] >= MAX_ATTEMPTS else "otp_invalid"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_the_code_check_behaves_like_its_model(mobile: MobileElection, sequence: list[tuple[str, Any]]) -> None:
    voter = mobile.voters[0]
    start = timezone.now()
    issued = otp.request_code(election_id=mobile.election.ledger_id, normalised_phone=voter.phone.replace("-", ""),
                              birth_date=date.fromisoformat(voter.birth_date), now=start)
    code = read_last_code(voter.phone)
    wrong_code = "0" * 8 if code != "0" * 8 else "1" * 8
    sessions_before = DeviceSession.objects.count()
    state = {"used": False, "wrong": 0, "elapsed": 0}
    for action, value in sequence:
        if action == "wait":
            state["elapsed"] += value
            continue
        want = expected(state, value)
        try:
            otp.verify_code(challenge=issued.challenge, code=code if value else wrong_code,
                            now=start + timedelta(seconds=state["elapsed"]))
            got = "ok"
        except MobileApiError as exc:
            got = exc.code
        assert got == want, (sequence, state)
    assert DeviceSession.objects.count() - sessions_before == (1 if state["used"] else 0)
