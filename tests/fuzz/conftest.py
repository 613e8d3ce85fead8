"""Fixtures of the fuzz tests: the voting tests' election world (official, stations, in-process ledger)."""

from __future__ import annotations

from tests.voting.conftest import (  # noqa: F401  (fixtures re-exported for the API and upload fuzz tests)
    election,
    now,
    official,
    station,
    station2,
    suwon,
    transport,
)
