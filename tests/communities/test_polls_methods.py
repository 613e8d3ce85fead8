# ruff: noqa: F811  (pytest fixtures imported from tests.voting.conftest are requested by name)
"""Every voting method end to end through a real ledger node, each with a worked example whose winner is known.

Members' browsers are played by Python signing the same transactions (fresh P-256 key per
member per poll); the server registers each address, relays the cast, and the published
result is the node's own tally of the ledger ballots.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from communities.services import polls as poll_services
from communities.services.poll_voting import cast_registered
from ledger.core.crypto import PrivateKey
from voting.ledger_gateway import LedgerGateway

from tests.voting.conftest import ledger_node, node_gateway  # noqa: F401

from .poll_support import World, build_world, cast_tx, keys_of, mobile_settings, open_poll


@pytest.fixture
def world(db: Any, settings: Any, tmp_path: Path, node_gateway: LedgerGateway) -> Iterator[World]:
    settings.MOBILE = mobile_settings(tmp_path)
    yield build_world()


def run_poll(world: World, method: str, ballots: list[Any], **extra: Any) -> dict[str, Any]:
    """Open a poll, one member per ballot (spread over the tree), cast, close, publish; the ledger's result."""
    now: datetime = timezone.now()
    nodes = [world.root, world.suwon, world.jangan, world.seongnam]
    members = [world.add_member(f"{method}-{index}", nodes[index % len(nodes)]) for index in range(len(ballots))]
    poll = open_poll(world, method, now, **extra)  # after the members join: publication fixes who may vote
    names = keys_of(poll)
    for member, ballot in zip(members, ballots, strict=True):
        marked = _to_keys(ballot, names)
        cast_registered(member, poll, cast_tx(PrivateKey.generate(), poll, marked), now)
    poll_services.close_poll(world.manager, poll, timezone.now())
    published = poll_services.publish_results(world.manager, poll, timezone.now())
    assert published.results["counts"]["cast"] == len(ballots)
    return {"names": {v: k for k, v in names.items()}, **published.results["result"]}


def _to_keys(ballot: Any, names: dict[str, str]) -> Any:
    if isinstance(ballot, str):
        return names.get(ballot, ballot)
    if isinstance(ballot, dict):
        return {names[name]: score for name, score in ballot.items()}
    return [names[name] for name in ballot]


def named(result: dict[str, Any], values: dict[str, int]) -> dict[str, int]:
    return {result["names"].get(key, key): value for key, value in values.items()}


def test_single_choice_plurality(world: World) -> None:
    result = run_poll(world, "single", ["A", "A", "A", "B", "B", "C"])
    assert named(result, result["totals"]) == {"A": 3, "B": 2, "C": 1}
    assert [result["names"][w] for w in result["winners"]] == ["A"] and result["tie"] is False


def test_multi_two_of_three(world: World) -> None:
    result = run_poll(world, "multi", [["A", "B"], ["B", "C"], ["B"], ["A", "C"]], max_choices=2)
    assert named(result, result["totals"]) == {"A": 2, "B": 3, "C": 2}
    assert [result["names"][w] for w in result["winners"]] == ["B"]


def test_yes_no_abstain_passes_on_more_yes_than_no(world: World) -> None:
    result = run_poll(world, "yna", ["yes", "yes", "no", "abstain", "abstain"], options=())
    assert result["totals"] == {"yes": 2, "no": 1, "abstain": 2}
    assert result["passed"] is True and result["winners"] == ["yes"]


def test_ranked_instant_runoff_the_plurality_leader_loses(world: World) -> None:
    ballots = [["A", "B", "C"]] * 4 + [["B", "C", "A"]] * 3 + [["C", "B"]] * 2
    result = run_poll(world, "ranked", ballots)
    first, second = result["rounds"]
    assert named(result, first["counts"]) == {"A": 4, "B": 3, "C": 2}
    assert result["names"][first["eliminated"]] == "C"
    assert named(result, second["counts"]) == {"A": 4, "B": 5}
    assert [result["names"][w] for w in result["winners"]] == ["B"] and result["tie"] is False


def test_score_voting_highest_sum_wins(world: World) -> None:
    ballots = [{"A": 5, "B": 3, "C": 0}, {"A": 0, "B": 5, "C": 5}, {"A": 3, "B": 4, "C": 5}]
    result = run_poll(world, "score", ballots, score_max=5)
    assert named(result, result["totals"]) == {"A": 8, "B": 12, "C": 10}
    assert [result["names"][w] for w in result["winners"]] == ["B"]
