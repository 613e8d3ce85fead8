"""The lifecycle transition table: every (status, action) pair, database-free."""

from __future__ import annotations

import pytest

from voting import lifecycle
from voting.errors import ElectionWrongStatus
from voting.lifecycle import Status

ORDER = list(Status)


@pytest.mark.parametrize("status", ORDER)
@pytest.mark.parametrize("action", list(lifecycle.TRANSITIONS))
def test_transition_allowed_only_from_its_source(status: Status, action: str) -> None:
    transition = lifecycle.TRANSITIONS[action]
    if status == transition.source:
        assert lifecycle.validate_transition(status, action).target == transition.target
    else:
        with pytest.raises(ElectionWrongStatus) as info:
            lifecycle.validate_transition(status, action)
        assert info.value.detail == {"action": action, "status": status.value, "expected": transition.source.value}


def test_transitions_form_one_chain_through_every_status() -> None:
    chain = [Status.DRAFT]
    by_source = {t.source: t.target for t in lifecycle.TRANSITIONS.values()}
    while chain[-1] in by_source:
        chain.append(by_source[chain[-1]])
    assert chain == ORDER


@pytest.mark.parametrize(
    ("status", "action", "done"),
    [
        (Status.DRAFT, "schedule", False),
        (Status.SCHEDULED, "schedule", True),
        (Status.OPEN, "open", True),
        (Status.SCHEDULED, "open", False),
        (Status.CLOSED, "close", True),
        (Status.PUBLISHED, "close", True),
        (Status.OPEN, "close", False),
        (Status.TALLIED, "publish", False),
    ],
)
def test_is_done_makes_repeats_no_ops(status: Status, action: str, done: bool) -> None:
    assert lifecycle.is_done(status, action) is done


@pytest.mark.parametrize(
    ("activity", "allowed"),
    [
        ("edit", {Status.DRAFT}),
        ("import_roll", {Status.DRAFT, Status.SCHEDULED}),
        ("issue_tokens", {Status.SCHEDULED}),
        ("check_in", {Status.OPEN}),
        ("view_results", {Status.TALLIED, Status.PUBLISHED}),
    ],
)
def test_activities_are_allowed_only_in_their_statuses(activity: str, allowed: set[Status]) -> None:
    for status in ORDER:
        assert lifecycle.is_allowed(status, activity) is (status in allowed)
        if status not in allowed:
            with pytest.raises(ElectionWrongStatus):
                lifecycle.validate_activity(status, activity)
