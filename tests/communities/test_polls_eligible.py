"""Publishing fixes who may vote and puts each unit's eligible members on the ledger (docs/communities.md).

Real poll contract (in-process ledger). The count per unit uses the same rule as the unit a
voter is registered at (the member's deepest node within the poll's subtree), and members
who join after publication are refused with a typed error, so the ledger's ``eligible``
figures stay exact and turnout computed from the ledger is true.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from communities import ledger as poll_ledger
from communities.models import PollRegistration
from communities.poll_errors import PollJoinedAfterPublish, PollNotEligible
from communities.services.poll_voting import cast_registered, get_member_units, issue_poll_credential
from ledger.core.crypto import PrivateKey
from voting.ledger_gateway import get_gateway


from .poll_support import World, build_world, cast_tx, in_process_ledger, open_poll, prepare_anonymous
from .test_polls_api import signed_in


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def world(db: Any, settings: Any, tmp_path: Path) -> Iterator[World]:
    with in_process_ledger(settings, tmp_path):
        yield build_world()


def populate(world: World) -> None:
    world.add_member("a", world.root)
    world.add_member("b", world.suwon)
    world.add_member("c", world.suwon, world.jangan)  # deepest: jangan
    world.add_member("d", world.jangan)
    world.add_member("e", world.seongnam)
    world.add_member("f", world.seongnam, world.jangan)  # jangan is deeper than seongnam
    world.add_member("g")  # in no node


def ledger_eligible(poll: Any) -> dict[str, int]:
    record = poll_ledger.get_poll(get_gateway(), poll.ledger_id)
    assert record is not None
    return {unit["id"]: unit["eligible"] for unit in record["units"]}


def test_publish_puts_each_units_own_members_on_the_ledger(world: World, now: datetime) -> None:
    populate(world)
    whole = open_poll(world, "single", now)
    c = lambda node: f"c{node.pk}"  # noqa: E731
    assert ledger_eligible(whole) == {c(world.root): 1, c(world.suwon): 1, c(world.jangan): 3, c(world.seongnam): 1}
    scoped = open_poll(world, "single", now, scope=world.suwon)
    assert ledger_eligible(scoped) == {c(world.suwon): 1, c(world.jangan): 3}  # e is outside; f counts at jangan
    # The snapshot is the same assignment the voter is registered with.
    assert {r.member.display_name: r.unit for r in PollRegistration.objects.filter(poll=scoped)} == {
        "b": c(world.suwon), "c": c(world.jangan), "d": c(world.jangan), "f": c(world.jangan)}
    assert {m: u for m, u in get_member_units(scoped).items()} == {
        r.member_id: r.unit for r in PollRegistration.objects.filter(poll=scoped)}
    key = PrivateKey.generate()
    cast_registered(world.members["f"], scoped, cast_tx(key, scoped, "o1"), now)
    voter = poll_ledger.get_voter(get_gateway(), scoped.ledger_id, key.address)
    assert voter is not None and voter["unit"] == c(world.jangan)


def test_a_member_who_joins_after_publication_is_refused_and_nothing_is_written(world: World, now: datetime) -> None:
    populate(world)
    poll = open_poll(world, "single", now)
    late = world.add_member("late", world.suwon)
    with pytest.raises(PollJoinedAfterPublish) as raised:
        cast_registered(late, poll, cast_tx(PrivateKey.generate(), poll, "o1"), now)
    assert raised.value.code == "poll_joined_after_publish"
    with pytest.raises(PollNotEligible):  # never a member of the subtree: the older, plainer refusal
        cast_registered(world.members["g"], poll, cast_tx(PrivateKey.generate(), poll, "o1"), now)
    assert not PollRegistration.objects.filter(member=late).exists()
    assert poll_ledger.get_tally(get_gateway(), poll.ledger_id)["counts"]["registered"] == 0
    # The page tells the member why, instead of a ballot.
    client = signed_in(late)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("communities:poll_detail", kwargs={"poll": poll.ledger_id})).content.decode()
    assert 'id="joined-late"' in page and 'id="ballot-form"' not in page
    on_time = signed_in(world.members["b"]).get(reverse("communities:poll_detail", kwargs={"poll": poll.ledger_id}))
    assert 'id="ballot-form"' in on_time.content.decode()


def test_anonymous_polls_refuse_late_members_a_credential(world: World, now: datetime) -> None:
    populate(world)
    poll = open_poll(world, "single", now, anonymous=True)
    assert sum(ledger_eligible(poll).values()) == 6
    late = world.add_member("late", world.jangan)
    with pytest.raises(PollJoinedAfterPublish):
        issue_poll_credential(late, poll, prepare_anonymous(poll).blinded_msg, now)
    assert issue_poll_credential(world.members["d"], poll, prepare_anonymous(poll).blinded_msg, now)
