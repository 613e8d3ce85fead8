# ruff: noqa: F811  (pytest fixtures imported from tests.voting.conftest are requested by name)
"""Fixtures for the mobile API tests: test settings (locmem SMS, 2048-bit keys in a temp dir), a ready election."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from mobile_api import sms
from voting.models import PollingStation, Region

from tests.voting.conftest import (  # noqa: F401  (fixtures shared with the voting tests)
    ledger_node,
    node_gateway,
    now,
    official,
    station,
    station2,
    suwon,
    transport,
)

from .harness import MobileElection, build_mobile_election

GENEROUS_RATES = {name: "100000/hour" for name in (
    "otp_phone", "otp_client", "verify_client", "credential_client", "submit_client", "read_client",
)}


def mobile_settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "SMS_BACKEND": "mobile_api.sms.backends.locmem.SmsBackend",
        "SMS_FILE_PATH": tmp_path / "sms",
        "OTP_HMAC_KEY": "test-otp-key-0123456789abcdef",
        "OTP_DIGITS": 8,
        "OTP_TTL_S": 300,
        "OTP_MAX_ATTEMPTS": 5,
        "SESSION_TTL_S": 600,
        "PAGE_MINT_DELAY_MAX_S": 1,
        "CREDENTIAL_KEY_DIR": tmp_path / "credential-keys",
        "CREDENTIAL_KEY_BITS": 2048,  # the protocol's minimum: fast key generation in tests
        "THROTTLE_RATES": dict(GENEROUS_RATES),
    }
    values.update(overrides)
    return values


@pytest.fixture(autouse=True)
def mobile_test_settings(settings: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Every mobile test: locmem SMS, a temporary key directory, rates high unless a test lowers them."""
    settings.MOBILE = mobile_settings(tmp_path)
    cache.clear()
    sms.outbox.clear()
    yield settings.MOBILE
    cache.clear()
    sms.outbox.clear()


@pytest.fixture
def mobile(official: User, suwon: Region, station: PollingStation, transport: Any, now: datetime) -> MobileElection:
    """An open election with mobile voting, four voters with phones, on the in-process ledger."""
    return build_mobile_election(official, suwon, station, now)
