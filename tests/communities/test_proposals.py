"""Proposals: posting, endorsing (once, members of the subtree only), escalation, poll-ready, conversion, races."""

from __future__ import annotations

import threading
from datetime import datetime, timezone as dt_timezone

import pytest
from django.db import close_old_connections, connection

from communities.errors import (
    AlreadyEndorsed,
    InvalidCommunityInput,
    NotAManager,
    NotAMember,
    ProposalWrongStatus,
)
from communities.models import Endorsement, Proposal
from communities.services import proposals, tree

from .tree_factory import build_province, make_manager, make_member, make_superuser, make_user

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=dt_timezone.utc)
Status = Proposal.Status


@pytest.fixture
def admin(db):
    return make_superuser()


@pytest.fixture
def nodes(admin):
    built = build_province(admin)
    for slug, threshold in (("jangan", 2), ("suwon", 3), ("gyeonggi", 2), ("seongnam", 1)):
        tree.update_community(admin, built[slug], endorsement_threshold=threshold)
    return built


def endorse_by(count: int, proposal: Proposal, community, prefix: str = "e") -> Proposal:
    for i in range(count):
        proposal = proposals.endorse_proposal(make_member(community, f"{prefix}{i}"), proposal, NOW)
    return proposal


@pytest.mark.django_db
def test_only_members_of_the_subtree_post_and_endorse(nodes):
    outsider = make_member(nodes["seongnam"], "outsider")
    author = make_member(nodes["jangan"], "author")
    with pytest.raises(NotAMember):
        proposals.post_proposal(outsider, nodes["suwon"], title="t", body="b")
    with pytest.raises(NotAMember):
        proposals.post_proposal(None, nodes["suwon"], title="t", body="b")
    # a district member may post on the city's agenda (the city includes the district)
    proposal = proposals.post_proposal(author, nodes["suwon"], title=" 공원 ", body="놀이터를 고쳐 주세요")
    assert (proposal.title, proposal.threshold, proposal.status) == ("공원", 3, Status.OPEN)
    with pytest.raises(NotAMember):
        proposals.endorse_proposal(outsider, proposal, NOW)
    assert not Endorsement.objects.exists()


@pytest.mark.django_db
def test_post_validates_title_and_body(nodes):
    author = make_member(nodes["jangan"])
    with pytest.raises(InvalidCommunityInput) as info:
        proposals.post_proposal(author, nodes["jangan"], title=" ", body="x" * 10_001)
    assert set(info.value.detail["errors"]) == {"title", "body"}


@pytest.mark.django_db
def test_endorse_once(nodes):
    member = make_member(nodes["jangan"])
    proposal = proposals.post_proposal(member, nodes["jangan"], title="t", body="b")
    proposals.endorse_proposal(member, proposal, NOW)
    with pytest.raises(AlreadyEndorsed):
        proposals.endorse_proposal(member, proposal, NOW)
    proposal.refresh_from_db()
    assert proposal.endorsement_count == 1 and proposal.status == Status.OPEN


@pytest.mark.django_db
def test_escalates_up_to_the_root_then_waits_for_a_poll(nodes):
    author = make_member(nodes["jangan"], "author")
    proposal = proposals.post_proposal(author, nodes["jangan"], title="버스 노선", body="증편")
    proposal = endorse_by(1, proposal, nodes["jangan"], "a")
    assert proposal.status == Status.OPEN
    proposal = endorse_by(1, proposal, nodes["jangan"], "b")
    assert proposal.status == Status.ESCALATED and proposal.decided_at == NOW
    city = proposal.escalated_to
    assert (city.community, city.status, city.threshold, city.endorsement_count) == (nodes["suwon"], Status.OPEN, 3, 0)
    assert city.author == author and city.title == "버스 노선"
    city = endorse_by(3, city, nodes["suwon"], "c")
    assert city.status == Status.ESCALATED
    top = city.escalated_to
    assert top.community == nodes["gyeonggi"]
    top = endorse_by(2, top, nodes["seongnam"], "d")  # members anywhere in the province endorse there
    assert top.status == Status.READY_FOR_POLL
    assert [step.community.slug for step in proposals.get_proposal_path(city)] == ["jangan", "suwon", "gyeonggi"]
    assert proposals.get_proposal_path(top) == proposals.get_proposal_path(proposal)
    # once escalated, the lower step takes no more endorsements
    with pytest.raises(ProposalWrongStatus):
        proposals.endorse_proposal(make_member(nodes["jangan"], "late"), proposal, NOW)


@pytest.mark.django_db
def test_a_node_configured_for_polls_stops_escalation(admin, nodes):
    tree.update_community(admin, nodes["seongnam"], proposals_become_polls=True)
    author = make_member(nodes["seongnam"])
    proposal = proposals.post_proposal(author, nodes["seongnam"], title="t", body="b")
    proposal = proposals.endorse_proposal(author, proposal, NOW)
    assert proposal.status == Status.READY_FOR_POLL
    assert not Proposal.objects.filter(parent_proposal=proposal).exists()


@pytest.mark.django_db
def test_threshold_is_not_retroactive(admin, nodes):
    author = make_member(nodes["jangan"])
    proposal = proposals.post_proposal(author, nodes["jangan"], title="t", body="b")
    tree.update_community(admin, nodes["jangan"], endorsement_threshold=1)
    proposal = proposals.endorse_proposal(author, proposal, NOW)
    assert proposal.status == Status.OPEN and proposal.threshold == 2


@pytest.mark.django_db
def test_withdraw_only_by_the_author_while_open(nodes):
    author, other = make_member(nodes["jangan"], "a"), make_member(nodes["jangan"], "b")
    proposal = proposals.post_proposal(author, nodes["jangan"], title="t", body="b")
    with pytest.raises(NotAMember):
        proposals.withdraw_proposal(other, proposal, NOW)
    assert proposals.withdraw_proposal(author, proposal, NOW).status == Status.WITHDRAWN
    with pytest.raises(ProposalWrongStatus):
        proposals.endorse_proposal(other, proposal, NOW)
    assert not Endorsement.objects.exists()


@pytest.mark.django_db
def test_manager_converts_a_ready_proposal_into_a_poll(nodes):
    author = make_member(nodes["seongnam"])
    proposal = proposals.post_proposal(author, nodes["seongnam"], title="도서관 연장 운영", body="밤 10시까지")
    with pytest.raises(ProposalWrongStatus):
        proposals.convert_proposal_to_poll(make_superuser("boss"), proposal, NOW)
    tree.update_community(make_superuser("boss2"), nodes["seongnam"], proposals_become_polls=True)
    proposal = proposals.endorse_proposal(author, proposal, NOW)
    assert proposal.status == Status.READY_FOR_POLL
    stranger = make_user("stranger")
    make_manager(stranger, nodes["suwon"])
    with pytest.raises(NotAManager):
        proposals.convert_proposal_to_poll(stranger, proposal, NOW)
    manager = make_user("manager")
    make_manager(manager, nodes["seongnam"])
    poll = proposals.convert_proposal_to_poll(manager, proposal, NOW)
    proposal.refresh_from_db()
    assert proposal.status == Status.CONVERTED and poll.proposal_id == proposal.pk
    assert poll.community_id == nodes["seongnam"].pk and poll.title == "도서관 연장 운영"
    assert proposals.convert_proposal_to_poll(manager, proposal, NOW).pk == poll.pk  # no second poll


# --- races (PostgreSQL: real concurrent transactions) --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_endorsements_count_once_each_and_escalate_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SQLite serialises writers, so there is no race to test)")
    admin = make_superuser()
    nodes = build_province(admin)
    threshold = 5
    tree.update_community(admin, nodes["jangan"], endorsement_threshold=threshold)
    supporters = [make_member(nodes["jangan"], f"s{i}") for i in range(12)]
    proposal = proposals.post_proposal(supporters[0], nodes["jangan"], title="t", body="b")
    # every supporter twice: duplicates must be refused, and the escalation must happen exactly once
    attempts = supporters + supporters
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def endorse(member) -> None:
        try:
            barrier.wait()
            proposals.endorse_proposal(member, Proposal.objects.get(pk=proposal.pk), NOW)
            result = "ok"
        except (AlreadyEndorsed, ProposalWrongStatus) as exc:
            result = exc.code
        finally:
            close_old_connections()
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=endorse, args=(m,)) for m in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    proposal.refresh_from_db()
    accepted = outcomes.count("ok")
    assert len(outcomes) == len(attempts)
    assert proposal.status == Status.ESCALATED
    assert proposal.endorsement_count == accepted == Endorsement.objects.filter(proposal=proposal).count()
    assert accepted >= threshold
    assert Endorsement.objects.filter(proposal=proposal).values("member").distinct().count() == accepted
    assert Proposal.objects.filter(parent_proposal=proposal).count() == 1
    assert set(outcomes) <= {"ok", "already_endorsed", "proposal_wrong_status"}
