"""Suite-wide pytest hooks.

DJANGO_ENV=test is set by `run.py test`: pytest-django imports the settings before any
conftest.py runs, so setting it here would be too late. The header below shows which
environment, database and channel layer a run really used (the CI runs it twice).
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

# CI runs the properties with a fixed sequence of examples (HYPOTHESIS_PROFILE=ci in .ci/run), so a
# landing is judged on the same cases every time; local runs keep exploring new ones, and a
# failure found there prints the blob to reproduce it.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Print the effective backends so a CI log proves which services were exercised."""
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"project: DJANGO_ENV={settings.DJANGO_ENV} database={engine} channel_layer={layer} "
            f"hypothesis_profile={os.environ.get('HYPOTHESIS_PROFILE', 'dev')}"]
