"""Community pages and API through the test client: render in Korean and English, every join path, permissions."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from communities.models import Invitation, Member, Membership, Proposal
from communities.services import members, proposals, tree
from mobile_api import sms

from .tree_factory import build_province, make_manager, make_member, make_superuser, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_sms(settings: Any) -> Any:
    settings.MOBILE = {**settings.MOBILE, "SMS_BACKEND": "mobile_api.sms.backends.locmem.SmsBackend"}
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def admin():
    return make_superuser()


@pytest.fixture
def nodes(admin):
    return build_province(admin)


@pytest.fixture
def manager_client(nodes) -> Client:
    manager = make_user("suwon-manager")
    make_manager(manager, nodes["suwon"])
    client = Client()
    client.force_login(manager)
    return client


def member_client(member: Member) -> Client:
    client = Client()
    session = client.session
    session[members.SESSION_KEY] = member.pk
    session.save()
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize(("language", "expected"), [("ko", "하위 단위"), ("en", "Nodes below")])
def test_public_pages_render_in_korean_and_english(client, nodes, language, expected):
    author = make_member(nodes["jangan"], "작성자")
    proposal = proposals.post_proposal(author, nodes["jangan"], title="놀이터 보수", body="그네가 부서졌어요")
    pages = [
        reverse("communities:index"), reverse("communities:detail", args=[nodes["suwon"].pk]),
        reverse("communities:tree", args=[nodes["gyeonggi"].pk]),
        reverse("communities:proposal_detail", args=[proposal.pk]),
        reverse("communities:proposal_create", args=[nodes["jangan"].pk]),
        reverse("communities:member_sign_in"),
    ]
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        assert "<script>" not in response.content.decode() and " style=" not in response.content.decode()
    detail = text(client.get(pages[1], HTTP_ACCEPT_LANGUAGE=language))
    assert expected in detail and "장안구" in detail
    tree_page = text(client.get(pages[2], HTTP_ACCEPT_LANGUAGE=language))
    assert all(name in tree_page for name in ("경기도", "수원시", "성남시", "장안구"))


@pytest.mark.parametrize(("language", "expected"), [("ko", "명부 파일에서 회원 가져오기"),
                                                     ("en", "Import members from a roll file")])
def test_manager_pages_render_in_both_languages(manager_client, nodes, language, expected):
    for name in ("manage", "members", "invitations", "roll_import"):
        response = manager_client.get(reverse(f"communities:{name}", args=[nodes["jangan"].pk]),
                                      HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, name
    page = manager_client.get(reverse("communities:roll_import", args=[nodes["suwon"].pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert expected in text(page)


def test_manager_pages_refuse_other_subtrees_and_anonymous(manager_client, nodes):
    for name in ("manage", "members", "invitations", "roll_import"):
        response = manager_client.get(reverse(f"communities:{name}", args=[nodes["seongnam"].pk]))
        assert response.status_code == 403 and "not_a_manager" in response.content.decode()
        anonymous = Client().get(reverse(f"communities:{name}", args=[nodes["suwon"].pk]))
        assert anonymous.status_code == 302 and "sign-in" in anonymous["Location"]


def test_manager_adds_a_child_and_cannot_delete_own_node(manager_client, nodes):
    url = reverse("communities:manage", args=[nodes["suwon"].pk])
    response = manager_client.post(url, {"action": "child", "child-slug": "paldal", "child-name": "팔달구"})
    assert response.status_code == 302
    assert nodes["suwon"].children.filter(slug="paldal").exists()
    bad = manager_client.post(url, {"action": "child", "child-slug": "Bad!", "child-name": "x"})
    assert bad.status_code == 400
    refused = manager_client.post(reverse("communities:delete", args=[nodes["suwon"].pk]))
    assert refused.status_code == 403


def test_invitation_link_join_flow(manager_client, nodes):
    response = manager_client.post(reverse("communities:invitations", args=[nodes["jangan"].pk]),
                                   {"max_uses": 2, "valid_days": 3})
    link = re.search(r"/communities/join/([\w-]+)/", response.content.decode())
    assert response.status_code == 200 and link
    visitor = Client()
    join_url = reverse("communities:join", args=[link.group(1)])
    assert visitor.get(join_url).status_code == 200
    assert visitor.post(join_url, {"display_name": ""}).status_code == 400
    response = visitor.post(join_url, {"display_name": "새 회원"})
    assert response.status_code == 302
    member = Member.objects.get(display_name="새 회원")
    assert visitor.session[members.SESSION_KEY] == member.pk
    assert Membership.objects.get(member=member).community == nodes["jangan"]
    assert Invitation.objects.get().uses == 1
    assert Client().get(reverse("communities:join", args=["nope"])).status_code == 404


def test_roll_upload_page_is_all_or_nothing(manager_client, nodes):
    url = reverse("communities:roll_import", args=[nodes["suwon"].pk])
    bad = SimpleUploadedFile("roll.csv", b"name,phone,node\nA,01011112222,jangan\nB,123,\n", "text/csv")
    response = manager_client.post(url, {"file": bad}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Line 3" in text(response)
    assert not Member.objects.exists()
    good = SimpleUploadedFile("roll.csv", b"name,phone,node\nA,01011112222,jangan\nB,01033334444,\n", "text/csv")
    response = manager_client.post(url, {"file": good})
    assert response.status_code == 200 and Membership.objects.count() == 2


def test_sms_sign_in_flow_through_the_pages(admin, nodes):
    from communities.services import roll
    roll.import_roll(admin, nodes["suwon"], b"name,phone,node\nKim,010-4444-5555,jangan\n")
    browser = Client()
    url = reverse("communities:member_sign_in")
    assert browser.post(url, {"step": "phone", "phone": "010-4444-5555"}).status_code == 302
    code = re.search(r"\b(\d{8})\b", sms.outbox[-1].text).group(1)
    wrong = browser.post(url, {"step": "code", "code": "x1"})
    assert wrong.status_code == 400
    response = browser.post(url, {"step": "code", "code": code})
    assert response.status_code == 302
    assert browser.session[members.SESSION_KEY] == Member.objects.get().pk
    browser.post(reverse("communities:member_sign_out"))
    assert members.SESSION_KEY not in browser.session


def test_sms_join_through_an_invitation_page(admin, nodes):
    _inv, token = members.create_invitation(admin, nodes["seongnam"], max_uses=5, valid_days=1,
                                            now=timezone.now())
    browser = Client()
    assert browser.get(reverse("communities:join", args=[token])).status_code == 200
    url = reverse("communities:member_sign_in") + "?join=1"
    assert browser.post(url, {"step": "phone", "phone": "01056781234"}).status_code == 302
    code = re.search(r"\b(\d{8})\b", sms.outbox[-1].text).group(1)
    assert browser.post(url, {"step": "code", "code": code, "display_name": "문자 가입"}).status_code == 302
    membership = Membership.objects.get()
    assert (membership.community, membership.joined_via, membership.member.display_name) == (
        nodes["seongnam"], "sms", "문자 가입")


def test_proposal_post_endorse_escalate_through_pages(admin, nodes):
    tree.update_community(admin, nodes["jangan"], endorsement_threshold=1)
    author = make_member(nodes["jangan"], "작성자")
    browser = member_client(author)
    response = browser.post(reverse("communities:proposal_create", args=[nodes["jangan"].pk]),
                            {"title": "가로등", "body": "골목이 어두워요"})
    assert response.status_code == 302
    proposal = Proposal.objects.get()
    page = text(browser.get(reverse("communities:proposal_detail", args=[proposal.pk]), HTTP_ACCEPT_LANGUAGE="ko"))
    assert "공감하기" in page
    assert browser.post(reverse("communities:proposal_endorse", args=[proposal.pk])).status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.ESCALATED
    page = text(browser.get(reverse("communities:proposal_detail", args=[proposal.pk]), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Path of this proposal" in page and "수원시" in page and "장안구" in page
    again = browser.post(reverse("communities:proposal_endorse", args=[proposal.pk]))
    assert again.status_code == 409


def test_outsiders_cannot_post_or_endorse(nodes):
    outsider = member_client(make_member(nodes["seongnam"], "outsider"))
    response = outsider.post(reverse("communities:proposal_create", args=[nodes["suwon"].pk]),
                             {"title": "t", "body": "b"})
    assert response.status_code == 400 and not Proposal.objects.exists()
    author = make_member(nodes["suwon"], "author")
    proposal = proposals.post_proposal(author, nodes["suwon"], title="t", body="b")
    assert outsider.post(reverse("communities:proposal_endorse", args=[proposal.pk])).status_code == 403
    assert Client().post(reverse("communities:proposal_endorse", args=[proposal.pk])).status_code == 403


def test_manager_converts_a_ready_proposal_from_its_page(admin, nodes, manager_client):
    tree.update_community(admin, nodes["suwon"], endorsement_threshold=1, proposals_become_polls=True)
    author = make_member(nodes["suwon"])
    proposal = proposals.endorse_proposal(author, proposals.post_proposal(author, nodes["suwon"], title="t",
                                                                          body="b"), timezone.now())
    page = text(manager_client.get(reverse("communities:proposal_detail", args=[proposal.pk]), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Turn into a poll" in page
    response = manager_client.post(reverse("communities:proposal_convert", args=[proposal.pk]))
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.CONVERTED and proposal.poll.title == "t"
    assert member_client(author).post(reverse("communities:proposal_convert", args=[proposal.pk])).status_code == 403


# --- API -------------------------------------------------------------------------------------------


def test_api_reads_tree_and_proposal_path(client, nodes):
    roots = client.get("/api/v1/communities/").json()
    assert [r["slug"] for r in roots] == ["gyeonggi"] and roots[0]["unit_id"] == f"c{nodes['gyeonggi'].pk}"
    detail = client.get(f"/api/v1/communities/{nodes['suwon'].pk}/").json()
    assert [c["slug"] for c in detail["children"]] == ["jangan"]
    assert [a["slug"] for a in detail["ancestors"]] == ["gyeonggi"]
    assert client.get("/api/v1/communities/999999/").json()["code"] == "community_not_found"


def test_api_member_writes_need_csrf_and_a_member(nodes):
    member = make_member(nodes["jangan"])
    csrf_client = Client(enforce_csrf_checks=True)
    session = csrf_client.session
    session[members.SESSION_KEY] = member.pk
    session.save()
    url = f"/api/v1/communities/{nodes['jangan'].pk}/proposals/"
    refused = csrf_client.post(url, {"title": "t", "body": "b"}, content_type="application/json")
    assert refused.status_code == 403 and not Proposal.objects.exists()
    csrf_client.get(reverse("communities:index"))  # sets the CSRF cookie
    token = csrf_client.cookies["csrftoken"].value
    created = csrf_client.post(url, {"title": "t", "body": "b"}, content_type="application/json",
                               HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201 and created.json()["path"][0]["community"] == nodes["jangan"].pk
    anonymous = Client().post(url, {"title": "t", "body": "b"}, content_type="application/json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "member_sign_in_required"
    bad = member_client(member).post(url, {"title": ""}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_input"


def test_api_join_endorse_and_roll(admin, nodes):
    _inv, token = members.create_invitation(admin, nodes["jangan"], max_uses=1, valid_days=1,
                                            now=timezone.now())
    browser = Client()
    joined = browser.post("/api/v1/communities/join/", {"token": token, "display_name": "API"},
                          content_type="application/json")
    assert joined.status_code == 200 and joined.json()["joined_via"] == "invite"
    used = Client().post("/api/v1/communities/join/", {"token": token, "display_name": "X"},
                         content_type="application/json")
    assert used.status_code == 410 and used.json()["code"] == "invitation_used_up"
    proposal = proposals.post_proposal(make_member(nodes["jangan"]), nodes["jangan"], title="t", body="b")
    endorsed = browser.post(f"/api/v1/communities/proposals/{proposal.pk}/endorse/")
    assert endorsed.status_code == 200 and endorsed.json()["endorsement_count"] == 1
    twice = browser.post(f"/api/v1/communities/proposals/{proposal.pk}/endorse/")
    assert twice.status_code == 409 and twice.json()["code"] == "already_endorsed"
    manager = Client()
    manager.force_login(admin)
    bad = manager.post(f"/api/v1/communities/{nodes['suwon'].pk}/roll/",
                       {"file": SimpleUploadedFile("r.csv", b"name,phone,node\nA,1,\n")})
    assert bad.status_code == 400 and bad.json()["detail"]["errors"][0]["code"] == "phone_invalid"
    ok = manager.post(f"/api/v1/communities/{nodes['suwon'].pk}/roll/",
                      {"file": SimpleUploadedFile("r.csv", b"name,phone,node\nA,01012341234,jangan\n")})
    assert ok.status_code == 200 and ok.json()["memberships_created"] == 1
    stranger = Client()
    stranger.force_login(make_user("stranger"))
    refused = stranger.post(f"/api/v1/communities/{nodes['suwon'].pk}/roll/",
                            {"file": SimpleUploadedFile("r.csv", b"name,phone,node\nA,01012341234,\n")})
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_manager"


def test_admin_lists_and_change_pages_render(admin, nodes):
    author = make_member(nodes["jangan"])
    proposals.post_proposal(author, nodes["jangan"], title="t", body="b")
    staff = Client()
    staff.force_login(admin)
    for model in ("community", "member", "membership", "communitymanager", "invitation", "proposal", "endorsement"):
        assert staff.get(f"/admin/communities/{model}/").status_code == 200, model
    assert staff.get(f"/admin/communities/community/{nodes['suwon'].pk}/change/").status_code == 200
    assert staff.get("/admin/communities/community/add/").status_code == 403
