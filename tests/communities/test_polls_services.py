"""Poll services over the real poll contract (in-process ledger): drafts, permissions, schedule, voting, results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from communities import ledger as poll_ledger
from communities.models import Poll, PollRegistration
from communities.poll_errors import (
    PollAlreadyRegistered,
    PollInvalid,
    PollManagerRequired,
    PollNotEligible,
    PollNotOpen,
    PollScheduleNotReached,
    PollTxInvalid,
    PollTxRejected,
    PollWrongStatus,
)
from communities.services import polls as poll_services
from communities.services.poll_voting import cast_registered
from ledger.core.crypto import PrivateKey
from tests.voting.inprocess_ledger import InProcessTransport
from voting.ledger_gateway import get_gateway

from .poll_support import (
    World,
    build_world,
    cast_tx,
    draft,
    in_process_ledger,
    keys_of,
    open_poll,
)


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def transport(settings: Any, tmp_path: Path) -> Iterator[InProcessTransport]:
    with in_process_ledger(settings, tmp_path) as transport:
        yield transport


@pytest.fixture
def world(db: Any, transport: InProcessTransport) -> World:
    return build_world()


def vote(world: World, poll: Poll, name: str, ballot: Any, now: datetime, key: PrivateKey | None = None) -> str:
    outcome = cast_registered(world.members[name], poll, cast_tx(key or PrivateKey.generate(), poll, ballot), now)
    return outcome.tx_id


# --- drafts and permissions ----------------------------------------------------------------------


def test_create_poll_requires_a_manager_of_the_node_or_above(world: World, now: datetime) -> None:
    stranger = User.objects.create_user("stranger", password="x-very-long-password-1")
    with pytest.raises(PollManagerRequired):
        poll_services.create_poll(stranger, world.suwon, draft("single", now), now)
    assert not Poll.objects.exists()
    poll = poll_services.create_poll(world.manager, world.suwon, draft("single", now), now)
    assert [o.key for o in poll.options.all()] == ["o1", "o2", "o3"]


@pytest.mark.parametrize(("method", "extra", "field"), [
    ("multi", {}, "max_choices"),
    ("multi", {"max_choices": 4}, "max_choices"),
    ("score", {}, "score_max"),
    ("score", {"score_max": 101}, "score_max"),
    ("single", {"options": ("only one",)}, "options"),
    ("single", {"options": ("Same", "same")}, "options"),
    ("nonsense", {}, "method"),
    ("single", {"anonymous": True, "weighted": True}, "weighted"),
    ("single", {"weighted": True}, "weighted"),  # the tree did not opt in
    ("ranked", {"prediction": True}, "prediction"),
    ("single", {"prediction": True, "anonymous": True}, "prediction"),
])
def test_invalid_drafts_are_refused_by_field_and_nothing_is_saved(
    world: World, now: datetime, method: str, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(PollInvalid) as caught:
        poll_services.create_poll(world.manager, world.root, draft(method, now, **extra), now)
    assert field in caught.value.detail["errors"]
    assert not Poll.objects.exists()


def test_closing_before_opening_is_refused(world: World, now: datetime) -> None:
    bad = poll_services.PollDraft(title="t", method="single", options=("A", "B"), opens_at=now, closes_at=now)
    with pytest.raises(PollInvalid) as caught:
        poll_services.create_poll(world.manager, world.root, bad, now)
    assert "closes_at" in caught.value.detail["errors"]


def test_yna_options_are_fixed_and_edit_only_while_draft(world: World, now: datetime) -> None:
    poll = poll_services.create_poll(world.manager, world.root, draft("yna", now, options=()), now)
    assert [o.key for o in poll.options.all()] == ["yes", "no", "abstain"]
    edited = poll_services.update_poll(world.manager, poll, draft("single", now, options=("X", "Y")), now)
    assert [o.name for o in edited.options.all()] == ["X", "Y"]
    poll_services.publish_poll(world.manager, edited, now)
    with pytest.raises(PollWrongStatus):
        poll_services.update_poll(world.manager, edited, draft("single", now, options=("P", "Q")), now)
    assert [o.name for o in Poll.objects.get(pk=poll.pk).options.all()] == ["X", "Y"]


# --- publishing and schedule ---------------------------------------------------------------------


def test_publish_puts_the_subtree_on_the_ledger_and_repeating_is_a_no_op(world: World, now: datetime) -> None:
    poll = poll_services.create_poll(world.manager, world.suwon, draft("multi", now, max_choices=2), now)
    poll_services.publish_poll(world.manager, poll, now)
    again = poll_services.publish_poll(world.manager, poll, now)
    assert again.status == Poll.Status.SCHEDULED
    record = poll_ledger.get_poll(get_gateway(), poll.ledger_id)
    assert record is not None
    units = {u["id"]: u["parent"] for u in record["units"]}
    assert units == {f"c{world.suwon.pk}": None, f"c{world.jangan.pk}": f"c{world.suwon.pk}"}
    assert record["method"] == "multi" and record["choices"] == 2 and record["weights"] == "equal"
    assert "credential_key" not in record


def test_open_waits_for_the_schedule_and_advance_schedules_opens_and_closes(
    world: World, now: datetime, transport: InProcessTransport
) -> None:
    later = poll_services.PollDraft(title="later", method="single", options=("A", "B"),
                                    opens_at=now + timedelta(minutes=10), closes_at=now + timedelta(minutes=20))
    poll = poll_services.create_poll(world.manager, world.root, later, now)
    poll_services.publish_poll(world.manager, poll, now)
    with pytest.raises(PollScheduleNotReached):
        poll_services.open_poll(world.manager, poll, now)
    assert poll_services.advance_schedules(now) == []
    transport.clock_ms = int((now + timedelta(minutes=11)).timestamp() * 1000)
    assert poll_services.advance_schedules(now + timedelta(minutes=11)) == [(poll.ledger_id, "open")]
    transport.clock_ms = int((now + timedelta(minutes=21)).timestamp() * 1000)
    assert poll_services.advance_schedules(now + timedelta(minutes=21)) == [(poll.ledger_id, "close")]
    poll.refresh_from_db()
    assert poll.status == Poll.Status.CLOSED
    assert poll_ledger.get_poll(get_gateway(), poll.ledger_id)["status"] == "closed"  # type: ignore[index]


def test_a_ledger_failure_changes_nothing(world: World, now: datetime, transport: InProcessTransport) -> None:
    from voting.errors import LedgerUnavailable

    poll = poll_services.create_poll(world.manager, world.root, draft("single", now), now)
    transport.offline = True
    with pytest.raises(LedgerUnavailable):
        poll_services.publish_poll(world.manager, poll, now)
    poll.refresh_from_db()
    assert poll.status == Poll.Status.DRAFT and poll.create_tx == ""
    transport.offline = False
    assert poll_services.publish_poll(world.manager, poll, now).status == Poll.Status.SCHEDULED


# --- voting (open polls) -------------------------------------------------------------------------


def test_member_votes_registered_at_their_deepest_node_and_results_come_from_the_ledger(
    world: World, now: datetime
) -> None:
    world.add_member("kim", world.suwon, world.jangan)  # counted at the deeper node
    world.add_member("lee", world.seongnam)
    poll = open_poll(world, "single", now)
    k = keys_of(poll)
    vote(world, poll, "kim", k["A"], now)
    vote(world, poll, "lee", k["B"], now)
    registration = PollRegistration.objects.get(poll=poll, member=world.members["kim"])
    assert registration.unit == f"c{world.jangan.pk}" and registration.register_tx
    voter = poll_ledger.get_voter(get_gateway(), poll.ledger_id, registration.address)
    assert voter == {"status": "cast", "unit": f"c{world.jangan.pk}", "weight": 1}
    poll_services.close_poll(world.manager, poll, now)
    published = poll_services.publish_results(world.manager, poll, now)
    assert published.results["result"]["totals"] == {"o1": 1, "o2": 1, "o3": 0}
    assert published.results["result"]["tie"] is True


def test_a_retried_cast_is_the_same_receipt_and_counts_once(world: World, now: datetime) -> None:
    world.add_member("kim", world.suwon)
    poll = open_poll(world, "yna", now, options=())
    key = PrivateKey.generate()
    tx = cast_tx(key, poll, "yes")
    first = cast_registered(world.members["kim"], poll, tx, now)
    second = cast_registered(world.members["kim"], poll, tx, now)
    assert first.tx_id == second.tx_id
    with pytest.raises(PollTxRejected) as caught:  # the same key, another ballot: the ledger refuses
        cast_registered(world.members["kim"], poll, cast_tx(key, poll, "no"), now)
    assert caught.value.code == "ballot_already_cast"
    assert poll_ledger.get_tally(get_gateway(), poll.ledger_id)["result"]["totals"]["yes"] == 1


def test_a_second_key_for_the_same_member_is_refused(world: World, now: datetime) -> None:
    world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now)
    vote(world, poll, "kim", "o1", now)
    with pytest.raises(PollAlreadyRegistered):
        vote(world, poll, "kim", "o2", now)
    assert poll_ledger.get_tally(get_gateway(), poll.ledger_id)["counts"]["registered"] == 1


def test_members_outside_the_scope_cannot_vote(world: World, now: datetime) -> None:
    world.add_member("lee", world.seongnam)
    poll = open_poll(world, "single", now, scope=world.suwon)
    with pytest.raises(PollNotEligible):
        vote(world, poll, "lee", "o1", now)
    with pytest.raises(PollNotEligible):
        cast_registered(None, poll, cast_tx(PrivateKey.generate(), poll, "o1"), now)
    assert not PollRegistration.objects.filter(member=world.members["lee"]).exists()


@pytest.mark.parametrize("mutate", [
    lambda tx: {**tx, "sig": "00" * 64},
    lambda tx: {**tx, "contract": "vote"},
    lambda tx: {**tx, "payload": {**tx["payload"], "poll": "poll-other"}},
    lambda tx: "not a transaction",
    lambda tx: {**tx, "chain": "other-chain"},
])
def test_bad_transactions_are_typed_errors_and_write_nothing(world: World, now: datetime, mutate: Any) -> None:
    world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now)
    with pytest.raises(PollTxInvalid):
        cast_registered(world.members["kim"], poll, mutate(cast_tx(PrivateKey.generate(), poll, "o1")), now)
    assert not PollRegistration.objects.exclude(address="").exists()  # the publication snapshot row, unbound


def test_an_invalid_ballot_is_the_ledgers_typed_refusal(world: World, now: datetime) -> None:
    world.add_member("kim", world.suwon)
    poll = open_poll(world, "multi", now, max_choices=2)
    with pytest.raises(PollTxRejected) as caught:
        vote(world, poll, "kim", ["o2", "o1"], now)  # not ascending
    assert caught.value.code == "ballot_invalid"
    assert poll_ledger.get_tally(get_gateway(), poll.ledger_id)["counts"]["cast"] == 0


def test_voting_needs_an_open_poll(world: World, now: datetime) -> None:
    world.add_member("kim", world.suwon)
    poll = poll_services.create_poll(world.manager, world.root, draft("single", now), now)
    poll_services.publish_poll(world.manager, poll, now)
    with pytest.raises(PollNotOpen):
        vote(world, poll, "kim", "o1", now)


def test_a_proposal_becomes_one_draft_poll_prefilled(world: World, now: datetime) -> None:
    from communities.models import Proposal

    author = world.add_member("author", world.suwon)
    proposal = Proposal.objects.create(community=world.suwon, author=author, title="Plant trees", body="Along the river",
                                       threshold=1)
    poll = poll_services.create_poll_from_proposal(proposal, world.manager, now)
    assert (poll.status, poll.method, poll.title, poll.community) == (Poll.Status.DRAFT, "yna", "Plant trees", world.suwon)
    assert poll.description == "Along the river" and poll.proposal == proposal and poll.opens_at > now
    assert poll_services.create_poll_from_proposal(proposal, world.manager, now) == poll
    assert Poll.objects.count() == 1


def test_results_are_not_published_when_the_nodes_tally_disagrees_with_its_blocks(
    world: World, now: datetime, transport: InProcessTransport
) -> None:
    from voting.errors import LedgerUnavailable

    world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now)
    vote(world, poll, "kim", "o1", now)
    poll_services.close_poll(world.manager, poll, now)
    honest = transport.query

    def lying(contract: str, name: str, args: dict[str, Any]) -> Any:
        answer = honest(contract, name, args)
        if name == "tally":
            answer = {**answer, "result": {**answer["result"], "totals": {"o1": 0, "o2": 1, "o3": 0}}}
        return answer

    transport.query = lying  # type: ignore[method-assign]
    with pytest.raises(LedgerUnavailable):
        poll_services.publish_results(world.manager, poll, now)
    poll.refresh_from_db()
    assert poll.status == Poll.Status.CLOSED and poll.results is None
    transport.query = honest  # type: ignore[method-assign]
    assert poll_services.publish_results(world.manager, poll, now).results["result"]["totals"]["o1"] == 1
