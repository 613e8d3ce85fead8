"""Prediction polls and the weights they earn: resolving outcomes on the ledger, fixing weights, the basis.

The rule itself is pure (``weights``); this module feeds it ledger data. Each member's forecasts
are read from the ledger's committed ``cast`` transactions when weights are computed and are
never stored; only the resulting weight is (and the ledger shows it with the address anyway).
docs/communities.md, "Weighted voting", says what an observer checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from voting.ledger_gateway import get_gateway

from .. import ledger as poll_ledger
from ..models import Poll, PollRegistration
from ..poll_errors import PollManagerRequired, PredictionInvalid
from . import tree, weights

User = AbstractBaseUser | AnonymousUser
Status = Poll.Status


def resolve_prediction(actor: User, poll: Poll, outcome: str, now: datetime) -> Poll:
    """Record a closed prediction poll's actual outcome on the ledger (a ``system.anchor``), once."""
    if not tree.is_manager(actor, poll.community):
        raise PollManagerRequired(detail={"community": poll.community_id})
    if not poll.prediction or poll.status not in (Status.CLOSED, Status.PUBLISHED):
        raise PredictionInvalid(detail={"poll": poll.ledger_id, "status": poll.status})
    if poll.resolved_option:
        if poll.resolved_option == outcome:
            return poll
        raise PredictionInvalid(detail={"poll": poll.ledger_id, "reason": "already_resolved"})
    if not poll.options.filter(key=outcome).exists():
        raise PredictionInvalid(detail={"poll": poll.ledger_id, "reason": "unknown_option"})
    gateway = get_gateway()
    digest = weights.outcome_commitment(gateway.chain_id, poll.ledger_id, outcome)
    tx_id = poll_ledger.publish_anchor(gateway, f"poll-outcome:{poll.ledger_id}", digest)
    Poll.objects.filter(pk=poll.pk, resolved_option="").update(resolved_option=outcome, resolution_tx=tx_id)
    poll.refresh_from_db()
    return poll


def _resolved_predictions(poll: Poll) -> QuerySet[Poll]:
    root = tree.get_root(poll.community)
    return (Poll.objects.filter(community__path__startswith=root.path, prediction=True)
            .exclude(resolved_option="").exclude(pk=poll.pk).order_by("status_changed_at", "pk"))


def get_latest_resolutions(poll: Poll) -> list[weights.Resolution]:
    rows = list(_resolved_predictions(poll).values_list("ledger_id", "resolved_option"))
    return weights.select_counted_polls([weights.Resolution(p, o) for p, o in rows])


def _ledger_ballots(gateway: Any, polls: set[str]) -> dict[str, dict[str, Any]]:
    """{poll: {address: ballot}} from the committed ``cast`` transactions (read once, not stored)."""
    found: dict[str, dict[str, Any]] = {p: {} for p in polls}
    for tx in gateway.transport.iter_transactions(poll_ledger.POLL_CONTRACT, "cast"):
        poll_id = tx.payload.get("poll")
        if poll_id in found:
            found[poll_id][tx.sender] = tx.payload.get("ballot")
    return found


def snapshot_weights(poll: Poll, counted: Sequence[weights.Resolution], gateway: Any, now: datetime) -> None:
    """Fix every eligible member's weight at publication: rows with no address yet, claimed when voting."""
    from .poll_voting import get_member_units

    rows = compute_member_weights(poll, counted, get_member_units(poll), gateway, now)
    PollRegistration.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def compute_member_weights(poll: Poll, counted: Sequence[weights.Resolution], member_units: dict[int, str],
                           gateway: Any, now: datetime) -> list[PollRegistration]:
    """Unsaved registrations with each member's weight by the rule.

    Only the resulting weight is stored (the ledger shows it anyway with the address); each
    member's forecasts are read from the ledger's cast transactions here and not kept.
    """
    by_poll = _ledger_ballots(gateway, {r.poll for r in counted}) if counted else {}
    addresses = _prediction_addresses(counted)
    rows = []
    for member_id, unit in member_units.items():
        mine = {p: by_poll[p].get(a) for p, a in addresses.get(member_id, {}).items() if p in by_poll}
        correct = weights.compute_correct_forecasts(counted, {p: b for p, b in mine.items() if b is not None})
        rows.append(PollRegistration(poll=poll, member_id=member_id, unit=unit,
                                     weight=weights.compute_weight(correct), created_at=now))
    return rows


def _prediction_addresses(counted: Sequence[weights.Resolution]) -> dict[int, dict[str, str]]:
    """{member: {prediction poll: the address the member voted with there}}."""
    found: dict[int, dict[str, str]] = {}
    rows = PollRegistration.objects.filter(poll__ledger_id__in=[r.poll for r in counted]).exclude(address="")
    for member_id, poll_id, address in rows.values_list("member_id", "poll__ledger_id", "address"):
        found.setdefault(member_id, {})[poll_id] = address
    return found


def build_poll_weights_basis(poll: Poll) -> dict[str, Any]:
    """The weights basis document of a weighted poll (see services.weights), for every registered address."""
    counted = get_counted_resolutions(poll)
    addresses = _prediction_addresses(counted)
    voters = [
        (address, weight, addresses.get(member_id, {}))
        for member_id, address, weight in poll.registrations.exclude(address="")
        .values_list("member_id", "address", "weight")
    ]
    return weights.build_weights_basis(poll.ledger_id, counted, voters)


def get_counted_resolutions(poll: Poll) -> list[weights.Resolution]:
    """The prediction polls named in the poll's published weight_rule, with their outcomes."""
    listed = poll.weight_rule.rsplit("Counted prediction polls: ", 1)[-1].rstrip(".").split(", ")
    outcomes = dict(Poll.objects.filter(ledger_id__in=listed).values_list("ledger_id", "resolved_option"))
    return [weights.Resolution(p, outcomes[p]) for p in listed if outcomes.get(p)]
