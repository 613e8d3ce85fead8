"""How hard the fuzz tests push: a short run in the suite, a long one on request (docs/fuzzing.md).

``FUZZ_EXAMPLES=20000`` (or any count) raises every property's example budget without touching the
suite-wide Hypothesis profiles that tests/conftest.py registers; the default keeps each test to a
few seconds on a busy 2-core machine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def examples(default: int) -> int:
    """The example budget: ``default`` in the suite, ``FUZZ_EXAMPLES`` when set (the long campaign)."""
    raw = os.environ.get("FUZZ_EXAMPLES", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


def fuzz_settings(default: int) -> settings:
    return settings(max_examples=examples(default), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
