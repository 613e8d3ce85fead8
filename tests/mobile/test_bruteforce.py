"""Guessing codes at scale: 10,000 wrong codes through the real views and the real throttles.

The attacker knows the victim's phone number and birth date, controls 50 client addresses
and may ask for codes and guess as fast as the API lets it. The limits that must engage:
per-phone code requests (SMS pumping), per-address guesses, and the 5-attempt lock of each
challenge. Together they bound the number of codes ever compared, whatever the volume.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from django.db.models import Sum

from mobile_api import sms
from mobile_api.models import DeviceSession, OtpChallenge

from .conftest import GENEROUS_RATES
from .harness import DjangoTransport, MobileElection, read_last_code

pytestmark = pytest.mark.django_db
WRONG_CODES = 10_000
ADDRESSES = [f"192.0.2.{n}" for n in range(1, 51)]
RATES = {**GENEROUS_RATES, "otp_phone": "5/hour", "otp_client": "20/hour", "verify_client": "60/hour"}


@pytest.fixture
def real_limits(settings: Any, mobile_test_settings: dict[str, Any]) -> None:
    settings.MOBILE = {**mobile_test_settings, "THROTTLE_RATES": RATES}


def test_ten_thousand_wrong_codes_never_succeed_and_every_limit_engages(
    real_limits: None, mobile: MobileElection,
) -> None:
    voter = mobile.voters[0]
    ask = {"election": mobile.election.ledger_id, "phone": voter.phone, "birth_date": voter.birth_date}
    transports = [DjangoTransport(address) for address in ADDRESSES]
    requests = [t("POST", "/api/v1/mobile/otp/request", ask, {}) for t in transports]
    challenges = [body["challenge"] for status, body in requests if status == 202]
    refused = Counter(body["code"] for status, body in requests if status != 202)
    assert len(challenges) == 5 and refused == {"otp_rate_limited": 45}  # per phone, across all addresses
    assert len(sms.outbox) == 5
    real_codes = {read_last_code(voter.phone)} | {m.text for m in sms.outbox}

    started = time.monotonic()
    answers: Counter[tuple[int, str]] = Counter()
    for n in range(WRONG_CODES):
        code = f"{(n * 7919) % 10**8:08d}"
        if any(code in text for text in real_codes):
            code = f"{(int(code) + 1) % 10**8:08d}"
        status, body = transports[n % len(transports)]("POST", "/api/v1/mobile/otp/verify",
                                                      {"challenge": challenges[n % 5], "code": code}, {})
        answers[(status, body.get("code", ""))] += 1
    elapsed = time.monotonic() - started
    print(f"\n{WRONG_CODES} guesses in {elapsed:.1f} s ({WRONG_CODES / elapsed:.0f}/s): {dict(answers)}")

    assert sum(answers.values()) == WRONG_CODES
    assert not any(status == 200 for status, _ in answers)
    assert not DeviceSession.objects.exists()
    compared = OtpChallenge.objects.aggregate(total=Sum("attempts"))["total"]
    assert compared == 5 * 5  # only 25 codes were ever compared: every challenge locked after 5
    assert answers[(400, "otp_invalid")] == 5 * 4 and answers[(403, "otp_locked")] > 0
    assert answers[(429, "otp_rate_limited")] == WRONG_CODES - 60 * len(ADDRESSES)  # per-address guesses
