"""The election lifecycle as one table: which action moves which status where, and what each status allows.

draft -> scheduled -> open -> closed -> tallied -> published

Services consult this module and nothing else to decide whether an action is allowed;
views and templates ask it which buttons to show. Repeating a transition whose target is
the current status is a no-op (double-submits are idempotent), every other mismatch is an
``ElectionWrongStatus`` error.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from .errors import ElectionWrongStatus


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    TALLIED = "tallied", _("Tallied")
    PUBLISHED = "published", _("Published")


@dataclass(frozen=True)
class Transition:
    """One edge of the lifecycle: ``action`` moves an election from ``source`` to ``target``."""

    action: str
    source: Status
    target: Status


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("schedule", Status.DRAFT, Status.SCHEDULED),
        Transition("open", Status.SCHEDULED, Status.OPEN),
        Transition("close", Status.OPEN, Status.CLOSED),
        Transition("tally", Status.CLOSED, Status.TALLIED),
        Transition("publish", Status.TALLIED, Status.PUBLISHED),
    )
}

# Activities that do not change the status, and the statuses in which they are allowed.
ACTIVITIES: dict[str, frozenset[Status]] = {
    "edit": frozenset({Status.DRAFT}),
    "import_roll": frozenset({Status.DRAFT, Status.SCHEDULED}),
    "issue_tokens": frozenset({Status.SCHEDULED}),
    "register_kiosk": frozenset({Status.DRAFT, Status.SCHEDULED, Status.OPEN}),
    "check_in": frozenset({Status.OPEN}),
    "view_turnout": frozenset({Status.OPEN, Status.CLOSED, Status.TALLIED, Status.PUBLISHED}),
    "view_results": frozenset({Status.TALLIED, Status.PUBLISHED}),
}


def get_transition(action: str) -> Transition:
    """The transition for ``action``; an unknown action is a programming error."""
    return TRANSITIONS[action]


def is_done(status: str, action: str) -> bool:
    """True when ``action`` already happened (status is its target or later): a repeat is a no-op."""
    order = list(Status)
    return order.index(Status(status)) >= order.index(TRANSITIONS[action].target)


def validate_transition(status: str, action: str) -> Transition:
    """Return the transition if ``action`` may run from ``status``; raise ElectionWrongStatus otherwise."""
    transition = TRANSITIONS[action]
    if transition.source != status:
        raise ElectionWrongStatus(
            detail={"action": action, "status": str(status), "expected": str(transition.source)}
        )
    return transition


def is_allowed(status: str, activity: str) -> bool:
    """True when ``activity`` (a key of ACTIVITIES or an action of TRANSITIONS) is allowed in ``status``."""
    if activity in TRANSITIONS:
        return TRANSITIONS[activity].source == status
    return Status(status) in ACTIVITIES[activity]


def validate_activity(status: str, activity: str) -> None:
    """Raise ElectionWrongStatus unless ``activity`` is allowed in ``status``."""
    if not is_allowed(status, activity):
        allowed = sorted(str(s) for s in ACTIVITIES.get(activity, ()))
        raise ElectionWrongStatus(detail={"action": activity, "status": str(status), "expected": allowed})
