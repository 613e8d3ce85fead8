"""Fixtures of the kiosk tests: an open election with printed cards and a registered kiosk at a station."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.conf import LazySettings

from tests.voting.conftest import (  # noqa: F401  (fixtures re-exported for the kiosk tests)
    election,
    ledger_node,
    node_gateway,
    now,
    official,
    outsider,
    station,
    station2,
    suwon,
    transport,
)

from .support import Booth, setup_booth


@pytest.fixture(autouse=True)
def one_issuance_worker(settings: LazySettings) -> Iterator[None]:
    """Render cards in this process: a handful of cards does not pay for spawning workers."""
    settings.VOTING = {**settings.VOTING, "ISSUANCE_WORKERS": 1}
    yield


@pytest.fixture
def booth(official: Any, election: Any, station: Any, station2: Any, transport: Any, now: datetime) -> Booth:  # noqa: F811
    """Open election, 3 cards at suwon-1 and 2 at yongin-1, one kiosk at suwon-1 (in-process ledger)."""
    return setup_booth(official, election, {station: 3, station2: 2}, now)
