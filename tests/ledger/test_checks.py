"""System checks for settings.LEDGER name the problem with a stable id."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.checks import check_ledger_settings


@pytest.mark.parametrize(("urls", "expected"), [
    (["http://127.0.0.1:7001", "https://node.suwon.go.kr"], []),
    ([], ["ledger.E002"]),
    ("http://127.0.0.1:7001", ["ledger.E002"]),
    (["127.0.0.1:7001"], ["ledger.E003"]),
    (["http://127.0.0.1:7001/?x=1"], ["ledger.E003"]),
])
def test_node_urls_are_checked(settings: Any, urls: Any, expected: list[str]) -> None:
    settings.LEDGER = {**settings.LEDGER, "NODE_URLS": urls}
    assert [error.id for error in check_ledger_settings()] == expected


def test_ledger_settings_must_be_a_dict(settings: Any) -> None:
    settings.LEDGER = None
    assert [error.id for error in check_ledger_settings()] == ["ledger.E001"]
