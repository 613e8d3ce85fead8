"""Community polls: drafts, publishing to the ledger, the open/close schedule, results, prediction outcomes.

Lifecycle: draft -> scheduled (created on the ledger) -> open -> closed -> published (results).
Each verb follows the election verbs' shape (voting.services.elections): a repeat of a done
step is a no-op; the ledger is changed first and waited for, then the row moves with a
conditional update, so a failure on the ledger changes nothing here and a retry is safe.
Results come from the ledger's own tally (ledger.core.polls.tally over the committed
ballots), never from a count in this database. Voting itself is in ``poll_voting``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from ledger.core.contracts.poll import MAX_OPTIONS, MAX_SCORE, MAX_UNITS, MIN_OPTIONS, YNA_OPTIONS
from voting.errors import LedgerUnavailable, VotingError
from voting.ledger_gateway import get_gateway, to_ledger_ms

from .. import ledger as poll_ledger
from ..errors import CommunityError
from ..models import Community, Poll, PollOption, PollRegistration, Proposal
from ..poll_errors import (
    PollInvalid,
    PollManagerRequired,
    PollNotFound,
    PollScheduleNotReached,
    PollWrongStatus,
)
from . import poll_voting, predictions, tree, weights
from .predictions import build_poll_weights_basis, resolve_prediction  # noqa: F401  (the poll verbs in one place)

User = AbstractBaseUser | AnonymousUser
Status = Poll.Status
Method = Poll.Method
ORDER = [Status.DRAFT, Status.SCHEDULED, Status.OPEN, Status.CLOSED, Status.PUBLISHED]
# action -> (from, to); one table, consulted by every verb and by the pages for their buttons.
TRANSITIONS: dict[str, tuple[str, str]] = {
    "publish": (Status.DRAFT, Status.SCHEDULED),
    "open": (Status.SCHEDULED, Status.OPEN),
    "close": (Status.OPEN, Status.CLOSED),
    "publish_results": (Status.CLOSED, Status.PUBLISHED),
}
PREDICTION_METHODS = (Method.SINGLE, Method.YNA)


@dataclass(frozen=True)
class PollDraft:
    """What a manager submits to create or edit a poll."""

    title: str
    method: str
    opens_at: datetime
    closes_at: datetime
    options: Sequence[str] = field(default_factory=tuple)
    description: str = ""
    max_choices: int | None = None
    score_max: int | None = None
    anonymous: bool = False
    live_results: bool = False
    weighted: bool = False
    prediction: bool = False


# --- access -----------------------------------------------------------------------------------


def access_poll(ledger_id: str) -> Poll:
    """The poll by its ledger id, or PollNotFound (polls are public once they exist)."""
    poll = Poll.objects.select_related("community").filter(ledger_id=ledger_id).first()
    if poll is None:
        raise PollNotFound(detail={"poll": ledger_id[:64]})
    return poll


def access_managed_poll(user: User, ledger_id: str) -> Poll:
    poll = access_poll(ledger_id)
    validate_poll_manager(user, poll.community)
    return poll


def validate_poll_manager(user: User, community: Community) -> None:
    if not tree.is_manager(user, community):
        raise PollManagerRequired(detail={"community": community.pk})


def list_polls(community: Community, *, include_drafts: bool = False) -> QuerySet[Poll]:
    """Polls scoped to this node or any node above it (a member here can vote in them)."""
    rows = Poll.objects.filter(community_id__in=tree.get_path_ids(community)).select_related("community")
    return rows if include_drafts else rows.exclude(status=Status.DRAFT)


def is_allowed(poll: Poll, action: str) -> bool:
    return TRANSITIONS[action][0] == poll.status


def is_done(poll: Poll, action: str) -> bool:
    return ORDER.index(Status(poll.status)) >= ORDER.index(Status(TRANSITIONS[action][1]))


def _validate_transition(poll: Poll, action: str) -> None:
    if not is_allowed(poll, action):
        raise PollWrongStatus(detail={"action": action, "status": poll.status, "expected": TRANSITIONS[action][0]})


# --- drafts -----------------------------------------------------------------------------------


def get_option_names(draft: PollDraft) -> list[str]:
    if draft.method == Method.YNA:
        return [str(_("Yes")), str(_("No")), str(_("Abstain"))]
    return [name.strip() for name in draft.options if name.strip()]


def validate_poll_draft(draft: PollDraft, community: Community, now: datetime) -> None:
    """Raise PollInvalid with every problem, by form field."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not draft.title.strip():
        add("title", _("Enter a title."))
    elif len(draft.title.strip()) > 200:
        add("title", _("At most 200 characters."))
    if draft.method not in Method.values:
        add("method", _("Choose a voting method."))
    if draft.opens_at.tzinfo is None or draft.closes_at.tzinfo is None:
        add("opens_at", _("Times must include a time zone."))
    elif draft.closes_at <= draft.opens_at:
        add("closes_at", _("Closing must be after opening."))
    elif draft.closes_at <= now:
        add("closes_at", _("Closing must be in the future."))
    names = get_option_names(draft)
    if not MIN_OPTIONS <= len(names) <= MAX_OPTIONS:
        add("options", _("Enter between %(min)d and %(max)d options.") % {"min": MIN_OPTIONS, "max": MAX_OPTIONS})
    if any(len(name) > 200 for name in names):
        add("options", _("An option name has at most 200 characters."))
    if len({name.casefold() for name in names}) != len(names):
        add("options", _("Two options have the same name."))
    if draft.method == Method.MULTI and not (draft.max_choices and 1 <= draft.max_choices <= max(len(names), 1)):
        add("max_choices", _("Choose how many options a voter may mark (1 to the number of options)."))
    if draft.method == Method.SCORE and not (draft.score_max and 1 <= draft.score_max <= MAX_SCORE):
        add("score_max", _("Choose the highest score (1 to %(max)d).") % {"max": MAX_SCORE})
    if draft.anonymous and draft.weighted:
        add("weighted", _("An anonymous poll cannot use weights (every enrolled voter weighs 1)."))
    if draft.weighted and not tree.get_root(community).weighted_voting:
        add("weighted", _("This community has not opted in to weighted voting."))
    if draft.prediction and (draft.anonymous or draft.method not in PREDICTION_METHODS):
        add("prediction", _("A prediction poll is single choice or yes/no/abstain, and not anonymous."))
    if errors:
        raise PollInvalid(detail={"errors": errors})


def _apply_draft(poll: Poll, draft: PollDraft) -> None:
    poll.title, poll.description = draft.title.strip(), draft.description.strip()
    poll.method, poll.opens_at, poll.closes_at = draft.method, draft.opens_at, draft.closes_at
    poll.max_choices = draft.max_choices if draft.method == Method.MULTI else None
    poll.score_max = draft.score_max if draft.method == Method.SCORE else None
    poll.anonymous, poll.live_results = draft.anonymous, draft.live_results
    poll.weighted, poll.prediction = draft.weighted, draft.prediction


def _replace_options(poll: Poll, draft: PollDraft) -> None:
    poll.options.all().delete()
    names = get_option_names(draft)
    keys = list(YNA_OPTIONS) if draft.method == Method.YNA else [f"o{i}" for i in range(1, len(names) + 1)]
    PollOption.objects.bulk_create(
        PollOption(poll=poll, position=i, key=key, name=name) for i, (key, name) in enumerate(zip(keys, names), 1)
    )


def create_poll(actor: User, community: Community, draft: PollDraft, now: datetime,
                proposal: Proposal | None = None) -> Poll:
    """A new draft poll for the subtree of ``community``; only its managers may."""
    validate_poll_manager(actor, community)
    validate_poll_draft(draft, community, now)
    with transaction.atomic():
        poll = Poll(community=community, ledger_id=f"poll-{secrets.token_hex(8)}", created_at=now,
                    status_changed_at=now, created_by=actor if actor.is_authenticated else None, proposal=proposal)
        _apply_draft(poll, draft)
        poll.save()
        _replace_options(poll, draft)
    return poll


def update_poll(actor: User, poll: Poll, draft: PollDraft, now: datetime) -> Poll:
    """Edit a draft; once published the ledger holds the options and times, so they are frozen."""
    validate_poll_manager(actor, poll.community)
    validate_poll_draft(draft, poll.community, now)
    with transaction.atomic():
        locked = Poll.objects.select_for_update().get(pk=poll.pk)
        if locked.status != Status.DRAFT:
            raise PollWrongStatus(detail={"action": "edit", "status": locked.status, "expected": Status.DRAFT})
        _apply_draft(locked, draft)
        locked.save()
        _replace_options(locked, draft)
    return locked


def create_poll_from_proposal(proposal: Proposal, by_user: User, now: datetime | None = None) -> Poll:
    """A draft yes/no/abstain poll prefilled from a proposal (escalation), scoped to the proposal's node.

    Opens in a day and runs a week by default; the manager edits it before publishing. A
    proposal is turned into at most one poll: a repeat returns the existing one.
    """
    from django.utils import timezone

    existing = Poll.objects.filter(proposal=proposal).first()
    if existing is not None:
        return existing
    moment = now or timezone.now()
    draft = PollDraft(title=proposal.title[:200], description=proposal.body[:5000], method=Method.YNA,
                      opens_at=moment + timedelta(days=1), closes_at=moment + timedelta(days=8))
    return create_poll(by_user, proposal.community, draft, moment, proposal=proposal)


# --- lifecycle --------------------------------------------------------------------------------


def build_create_payload(poll: Poll, chain: str, eligible: dict[str, int] | None = None) -> dict[str, Any]:
    """The ledger ``create`` payload (docs/protocol.md 16): options, units = the scope's subtree, schedule.

    ``eligible`` ({unit: members whose ballot unit it is}, from the publication snapshot) puts
    an ``eligible`` count on every unit, so the ledger bounds registrations per unit and
    turnout computed from the ledger alone has the true denominator.
    """
    units = tree.build_poll_units(poll.community)
    if eligible is not None:
        units = [dict(unit, eligible=eligible.get(unit["id"], 0)) for unit in units]
    if len(units) > MAX_UNITS:
        raise PollInvalid(detail={"errors": {"community": [_("The community has more than %(max)d nodes.")
                                                            % {"max": MAX_UNITS}]}})
    payload: dict[str, Any] = {
        "poll": poll.ledger_id, "title": poll.title, "method": poll.method,
        "options": [{"id": o.key, "name": o.name} for o in poll.options.all()],
        "units": units, "opens_at": to_ledger_ms(poll.opens_at), "closes_at": to_ledger_ms(poll.closes_at),
        "weights": "registered" if poll.weighted else "equal",
    }
    if poll.method == Method.MULTI:
        payload["choices"] = poll.max_choices
    if poll.method == Method.SCORE:
        payload["score_max"] = poll.score_max
    if poll.weighted:
        payload["weight_rule"] = poll.weight_rule
    if poll.anonymous:
        from .poll_voting import ensure_poll_credential_key

        payload["credential_key"] = ensure_poll_credential_key(poll).hex()
    return payload


def publish_poll(actor: User, poll: Poll, now: datetime) -> Poll:
    """Freeze the draft by creating it on the ledger (voters are registered as they vote).

    Publishing also fixes who may vote: every member of the subtree gets a registration row at
    their ballot unit (weighted polls: with their weight), and the per-unit counts go on the
    ledger as ``eligible``. Members who join later cannot vote in this poll. A retry after a
    failed publish takes a fresh snapshot unless the ledger already holds the poll, in which
    case the rows that produced the ledger's counts are kept.
    """
    validate_poll_manager(actor, poll.community)
    if is_done(poll, "publish"):
        return poll
    _validate_transition(poll, "publish")
    if poll.closes_at <= now:
        raise PollInvalid(detail={"errors": {"closes_at": [_("Closing must be in the future.")]}})
    gateway = get_gateway()
    if poll_ledger.get_poll(gateway, poll.ledger_id) is None:
        PollRegistration.objects.filter(poll=poll).delete()  # a stale snapshot of an earlier, failed attempt
    if poll.weighted:
        if not poll.weight_rule:  # fixed once, so a retried publish registers the same weights
            rule = weights.build_weight_rule(predictions.get_latest_resolutions(poll))
            Poll.objects.filter(pk=poll.pk, weight_rule="").update(weight_rule=rule)
            poll.refresh_from_db()
        predictions.snapshot_weights(poll, predictions.get_counted_resolutions(poll), gateway, now)
    eligible = poll_voting.snapshot_eligible(poll, now)
    tx_id = poll_ledger.create_poll(gateway, build_create_payload(poll, gateway.chain_id, eligible))
    return _move(poll, "publish", now, create_tx=tx_id)


def open_poll(actor: User | None, poll: Poll, now: datetime) -> Poll:
    """Open voting (manually, or by the schedule when ``actor`` is None) inside the scheduled window."""
    if actor is not None:
        validate_poll_manager(actor, poll.community)
    if is_done(poll, "open"):
        return poll
    _validate_transition(poll, "open")
    if now < poll.opens_at:
        raise PollScheduleNotReached(detail={"opens_at": poll.opens_at.isoformat()})
    if now >= poll.closes_at:
        raise PollWrongStatus(detail={"action": "open", "status": poll.status, "reason": "schedule_passed"})
    poll_ledger.set_poll_status(get_gateway(), poll.ledger_id, "open", reached={"open", "closed"})
    return _move(poll, "open", now)


def close_poll(actor: User | None, poll: Poll, now: datetime) -> Poll:
    """Close voting (manually, or by the schedule); a weighted poll's weights basis is anchored then."""
    if actor is not None:
        validate_poll_manager(actor, poll.community)
    if is_done(poll, "close"):
        return poll
    _validate_transition(poll, "close")
    gateway = get_gateway()
    poll_ledger.set_poll_status(gateway, poll.ledger_id, "close", reached={"closed"})
    fields: dict[str, Any] = {}
    if poll.weighted:
        basis = predictions.build_poll_weights_basis(poll)
        digest = weights.basis_sha256(basis)
        poll_ledger.publish_anchor(gateway, f"poll-weights:{poll.ledger_id}", digest)
        fields["weights_basis_sha256"] = digest
    return _move(poll, "close", now, **fields)


def publish_results(actor: User, poll: Poll, now: datetime) -> Poll:
    """Publish the ledger's tally of the closed poll (the contract's ``tally`` query, never a DB count)."""
    validate_poll_manager(actor, poll.community)
    if is_done(poll, "publish_results"):
        return poll
    _validate_transition(poll, "publish_results")
    gateway = get_gateway()
    tally = poll_ledger.get_tally(gateway, poll.ledger_id)
    if tally.get("status") != "closed":
        raise PollWrongStatus(detail={"action": "publish_results", "ledger_status": tally.get("status")})
    recount = poll_ledger.recount_tally(gateway, poll.ledger_id)
    if recount["result"] != tally["result"]:  # the node's state and its blocks disagree: publish nothing
        raise LedgerUnavailable(detail={"reason": "recount_mismatch", "poll": poll.ledger_id})
    return _move(poll, "publish_results", now, results=tally)


def advance_schedules(now: datetime) -> list[tuple[str, str]]:
    """Open every published poll whose time has come and close every open poll past its closing time.

    Run by ``manage.py poll_schedule`` (once, or in a loop with ``--every``); the ledger also
    refuses votes after ``closes_at`` on its own, so a late run never lets a late vote in.
    """
    done = []
    due = [(poll, "open", open_poll) for poll in
           Poll.objects.filter(status=Status.SCHEDULED, opens_at__lte=now, closes_at__gt=now)]
    due += [(poll, "close", close_poll) for poll in Poll.objects.filter(status=Status.OPEN, closes_at__lte=now)]
    for poll, action, verb in due:
        try:
            verb(None, poll, now)
        except (CommunityError, VotingError) as exc:  # one poll's trouble must not hold up the others
            done.append((poll.ledger_id, f"{action}_failed:{exc.code}"))
        else:
            done.append((poll.ledger_id, action))
    return done


def _move(poll: Poll, action: str, now: datetime, **fields: Any) -> Poll:
    source, target = TRANSITIONS[action]
    moved = Poll.objects.filter(pk=poll.pk, status=source).update(status=target, status_changed_at=now, **fields)
    poll.refresh_from_db()
    if not moved and poll.status != target:
        raise PollWrongStatus(detail={"action": action, "status": poll.status, "expected": source})
    return poll
