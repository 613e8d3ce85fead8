"""Joining: invitation links, roll import (all-or-nothing), SMS sign-in and SMS join; the member session."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

import pytest
from django.db import transaction
from django.test import RequestFactory
from django.contrib.sessions.backends.db import SessionStore
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from communities.errors import (
    InvalidCommunityInput,
    InvitationExpired,
    InvitationNotFound,
    InvitationUsedUp,
    NotAManager,
    NotAMember,
    PhoneInvalid,
    RollInvalid,
    RollTooLarge,
    SignInCodeExpired,
    SignInCodeInvalid,
    SignInCodeLocked,
    SignInCodeRateLimited,
    SignInCodeUsed,
)
from communities.models import Invitation, Member, MemberOtpChallenge, Membership
from communities.services import members, roll
from mobile_api import sms
from voting import pii

from .tree_factory import build_province, make_manager, make_member, make_superuser, make_user

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def locmem_sms(settings: Any) -> Any:
    settings.MOBILE = {**settings.MOBILE, "SMS_BACKEND": "mobile_api.sms.backends.locmem.SmsBackend",
                       "OTP_HMAC_KEY": "community-test-key", "OTP_MAX_ATTEMPTS": 3, "OTP_TTL_S": 300}
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def admin():
    return make_superuser()


@pytest.fixture
def nodes(admin):
    return build_province(admin)


def last_code(phone: str) -> str:
    message = next(m for m in reversed(sms.outbox) if m.to == phone)
    return re.search(r"\b(\d{8})\b", message.text).group(1)


# --- invitations ------------------------------------------------------------------------------------


def test_invitation_joins_a_new_member_and_stores_only_a_hash(admin, nodes):
    invitation, token = members.create_invitation(admin, nodes["jangan"], max_uses=2, valid_days=7, now=NOW)
    assert token not in invitation.token_sha256 and len(invitation.token_sha256) == 64
    membership = members.accept_invitation(token, member=None, display_name=" 김민수 ", now=NOW)
    assert membership.community == nodes["jangan"] and membership.joined_via == "invite"
    assert membership.member.display_name == "김민수" and membership.member.phone_hmac == ""


def test_invitation_respects_max_uses_and_repeat_joins_are_free(admin, nodes):
    _inv, token = members.create_invitation(admin, nodes["suwon"], max_uses=1, valid_days=1, now=NOW)
    first = members.accept_invitation(token, member=None, display_name="A", now=NOW)
    # the same member again: no new membership, no use consumed... and the link is still used up for others
    assert members.accept_invitation(token, member=first.member, now=NOW) == first
    with pytest.raises(InvitationUsedUp):
        members.accept_invitation(token, member=None, display_name="B", now=NOW)
    assert Member.objects.count() == 1


def test_invitation_expiry_revocation_and_unknown_tokens(admin, nodes):
    invitation, token = members.create_invitation(admin, nodes["suwon"], max_uses=5, valid_days=1, now=NOW)
    with pytest.raises(InvitationExpired):
        members.accept_invitation(token, member=None, display_name="A", now=NOW + timedelta(days=1))
    with pytest.raises(InvitationNotFound):
        members.accept_invitation("not-a-token", member=None, display_name="A", now=NOW)
    members.revoke_invitation(admin, invitation, NOW)
    with pytest.raises(InvitationExpired):
        members.accept_invitation(token, member=None, display_name="A", now=NOW)
    assert not Membership.objects.exists()


def test_invitation_needs_a_manager_and_sane_limits(nodes):
    outsider = make_user("outsider")
    make_manager(outsider, nodes["seongnam"])
    with pytest.raises(NotAManager):
        members.create_invitation(outsider, nodes["suwon"], max_uses=1, valid_days=1, now=NOW)
    with pytest.raises(InvalidCommunityInput) as info:
        members.create_invitation(outsider, nodes["seongnam"], max_uses=0, valid_days=999, now=NOW)
    assert set(info.value.detail["errors"]) == {"max_uses", "valid_days"}


def test_invitation_refuses_a_blank_name(admin, nodes):
    _inv, token = members.create_invitation(admin, nodes["suwon"], max_uses=1, valid_days=1, now=NOW)
    with pytest.raises(InvalidCommunityInput):
        members.accept_invitation(token, member=None, display_name="  ", now=NOW)
    assert Invitation.objects.get().uses == 0


# --- roll import -----------------------------------------------------------------------------------


def csv_bytes(*rows: str, header: str = "name,phone,node") -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def test_roll_import_adds_members_to_the_named_nodes(admin, nodes):
    data = csv_bytes("김민수,010-1234-5678,", "김민수,01012345678,jangan", "이영희,+82 10 2222 3333,/jangan/")
    result = roll.import_roll(admin, nodes["suwon"], data)
    assert (result.rows, result.members_created, result.memberships_created) == (3, 2, 3)
    minsu = Member.objects.get(phone_hmac=pii.compute_phone_hmac("01012345678"))
    assert set(minsu.memberships.values_list("community__slug", flat=True)) == {"suwon", "jangan"}
    assert set(Membership.objects.values_list("joined_via", flat=True)) == {"roll"}
    # importing the same file again adds nothing
    again = roll.import_roll(admin, nodes["suwon"], data)
    assert (again.members_created, again.memberships_created, again.already_members) == (0, 0, 3)


def test_roll_never_stores_phone_numbers_in_clear(admin, nodes):
    roll.import_roll(admin, nodes["suwon"], csv_bytes("A,010-9876-5432,"))
    stored = list(Member.objects.values_list("display_name", "phone_hmac"))
    assert stored == [("A", pii.compute_phone_hmac("01098765432"))]
    assert "98765432" not in repr(stored)


@pytest.mark.parametrize(("row", "field", "code"), [
    (",01012345678,", "name", "name_missing"),
    ("X" * 101 + ",01012345678,", "name", "name_too_long"),
    ("A,12345,", "phone", "phone_invalid"),
    ("A,01012345678,nowhere", "node", "node_unknown"),
    ("A,01012345678", None, "columns_wrong"),
    ("A,01012345678,seongnam", "node", "node_unknown"),  # outside the subtree being imported into
])
def test_roll_bad_row_imports_nothing(admin, nodes, row, field, code):
    data = csv_bytes("Good,010-1111-2222,", row)
    with pytest.raises(RollInvalid) as info:
        roll.import_roll(admin, nodes["suwon"], data)
    assert info.value.detail["errors"] == [{"row": 3, "field": field, "code": code}]
    assert not Member.objects.exists() and not Membership.objects.exists()


def test_roll_conflicts_within_the_file(admin, nodes):
    data = csv_bytes("A,01011112222,", "B,01011112222,jangan", "C,01033334444,", "C,01033334444,")
    with pytest.raises(RollInvalid) as info:
        roll.import_roll(admin, nodes["suwon"], data)
    assert [(e["row"], e["code"]) for e in info.value.detail["errors"]] == [
        (3, "phone_name_conflict"), (5, "duplicate_row")]
    assert not Member.objects.exists()


def test_roll_header_encoding_and_size_limits(admin, nodes, monkeypatch):
    with pytest.raises(RollInvalid) as info:
        roll.import_roll(admin, nodes["suwon"], csv_bytes("A,01011112222,", header="이름,전화,노드"))
    assert info.value.detail["errors"][0]["code"] == "header_wrong"
    with pytest.raises(RollInvalid) as info:
        roll.import_roll(admin, nodes["suwon"], "name,phone,node\nA,01011112222,\n".encode("utf-16"))
    assert info.value.detail["errors"][0]["code"] == "not_utf8"
    with pytest.raises(RollInvalid):
        roll.import_roll(admin, nodes["suwon"], csv_bytes())
    monkeypatch.setattr(roll, "MAX_ROLL_BYTES", 10)
    with pytest.raises(RollTooLarge):
        roll.import_roll(admin, nodes["suwon"], csv_bytes("A,01011112222,"))
    monkeypatch.setattr(roll, "MAX_ROLL_BYTES", 10_000)
    monkeypatch.setattr(roll, "MAX_ROLL_ROWS", 1)
    with pytest.raises(RollTooLarge):
        roll.import_roll(admin, nodes["suwon"], csv_bytes("A,01011112222,", "B,01011113333,"))
    assert not Member.objects.exists()


def test_roll_import_needs_a_manager_of_the_node(nodes):
    manager = make_user("m")
    make_manager(manager, nodes["jangan"])
    with pytest.raises(NotAManager):
        roll.import_roll(manager, nodes["suwon"], csv_bytes("A,01011112222,"))


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(good=st.lists(st.integers(0, 99), min_size=1, max_size=8, unique=True),
       bad_at=st.integers(0, 8), bad=st.sampled_from([",0101,", "A,01000000000,zz", "A,,", "A;B"]))
def test_roll_one_bad_row_anywhere_means_nothing_is_written(admin, nodes, good, bad_at, bad):
    rows = [f"P{n},0101234{n:04d},jangan" for n in good]
    rows.insert(min(bad_at, len(rows)), bad)
    with transaction.atomic():  # each example starts from an empty roll
        with pytest.raises(RollInvalid) as info:
            roll.import_roll(admin, nodes["suwon"], csv_bytes(*rows))
        assert {e["row"] for e in info.value.detail["errors"]} == {min(bad_at, len(good)) + 2}
        assert not Member.objects.exists() and not Membership.objects.exists()
        transaction.set_rollback(True)


# --- SMS sign-in and SMS join ------------------------------------------------------------------------


def test_sms_sign_in_matches_the_roll_imported_member(admin, nodes):
    roll.import_roll(admin, nodes["suwon"], csv_bytes("A,010-5555-6666,jangan"))
    issued = members.request_sign_in_code("010 5555 6666", now=NOW)
    code = last_code("01055556666")
    member = members.verify_sign_in_code(issued.challenge, code, now=NOW)
    assert member.memberships.get().community == nodes["jangan"]
    with pytest.raises(SignInCodeUsed):
        members.verify_sign_in_code(issued.challenge, code, now=NOW)
    assert not MemberOtpChallenge.objects.filter(code_hmac__contains=code).exists()


def test_sms_unknown_number_gets_the_same_answer_and_no_sms(nodes):
    issued = members.request_sign_in_code("010-7777-8888", now=NOW)
    assert issued.challenge and issued.expires_in == 300 and sms.outbox == []
    for guess in ("00000000", "x"):
        with pytest.raises(SignInCodeInvalid):
            members.verify_sign_in_code(issued.challenge, guess, now=NOW)


def test_sms_code_locks_after_the_attempt_limit_and_expires(admin, nodes):
    roll.import_roll(admin, nodes["suwon"], csv_bytes("A,01055556666,"))
    issued = members.request_sign_in_code("01055556666", now=NOW)
    code = last_code("01055556666")
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8
    with pytest.raises(SignInCodeInvalid):
        members.verify_sign_in_code(issued.challenge, wrong, now=NOW)
    with pytest.raises(SignInCodeInvalid):
        members.verify_sign_in_code(issued.challenge, wrong, now=NOW)
    with pytest.raises(SignInCodeLocked):
        members.verify_sign_in_code(issued.challenge, wrong, now=NOW)
    with pytest.raises(SignInCodeLocked):  # even the right code, once locked
        members.verify_sign_in_code(issued.challenge, code, now=NOW)
    late = members.request_sign_in_code("01055556666", now=NOW)
    with pytest.raises(SignInCodeExpired):
        members.verify_sign_in_code(late.challenge, last_code("01055556666"), now=NOW + timedelta(seconds=300))


def test_sms_codes_per_number_are_rate_limited(nodes):
    for _ in range(members.CODES_PER_PHONE_PER_HOUR):
        members.request_sign_in_code("01099990000", now=NOW)
    with pytest.raises(SignInCodeRateLimited):
        members.request_sign_in_code("01099990000", now=NOW)
    members.request_sign_in_code("01099990000", now=NOW + timedelta(hours=1, seconds=1))
    with pytest.raises(PhoneInvalid):
        members.request_sign_in_code("02-123-4567", now=NOW)


def test_sms_join_with_an_invitation_creates_a_verified_member(admin, nodes):
    _inv, token = members.create_invitation(admin, nodes["seongnam"], max_uses=3, valid_days=1, now=NOW)
    issued = members.request_sign_in_code("01012121212", now=NOW, invitation_token=token)
    code = last_code("01012121212")
    with pytest.raises(InvalidCommunityInput):  # a new member needs a name; the code is not spent
        members.verify_sign_in_code(issued.challenge, code, now=NOW, invitation_token=token)
    member = members.verify_sign_in_code(issued.challenge, code, now=NOW, invitation_token=token,
                                         display_name="박지성")
    membership = member.memberships.get()
    assert (membership.community, membership.joined_via) == (nodes["seongnam"], "sms")
    assert member.phone_hmac == pii.compute_phone_hmac("01012121212")
    # the verified phone now signs in without an invitation
    again = members.request_sign_in_code("01012121212", now=NOW)
    assert members.verify_sign_in_code(again.challenge, last_code("01012121212"), now=NOW) == member


def test_sms_join_of_a_roll_member_adds_the_node_to_the_same_member(admin, nodes):
    roll.import_roll(admin, nodes["suwon"], csv_bytes("A,01055556666,"))
    _inv, token = members.create_invitation(admin, nodes["seongnam"], max_uses=3, valid_days=1, now=NOW)
    issued = members.request_sign_in_code("01055556666", now=NOW, invitation_token=token)
    member = members.verify_sign_in_code(issued.challenge, last_code("01055556666"), now=NOW, invitation_token=token)
    assert Member.objects.count() == 1
    assert set(member.memberships.values_list("joined_via", flat=True)) == {"roll", "sms"}


def test_sms_without_invitation_for_an_unknown_phone_never_makes_a_member(admin, nodes):
    _inv, token = members.create_invitation(admin, nodes["seongnam"], max_uses=3, valid_days=1, now=NOW)
    issued = members.request_sign_in_code("01012121212", now=NOW, invitation_token=token)
    with pytest.raises(NotAMember):  # the code is right, but without the invitation there is nothing to join
        members.verify_sign_in_code(issued.challenge, last_code("01012121212"), now=NOW)
    assert not Member.objects.exists()


# --- session ---------------------------------------------------------------------------------------


def test_member_session_round_trip(nodes):
    member = make_member(nodes["suwon"])
    request = RequestFactory().get("/")
    request.session = SessionStore()
    assert members.current_member(request) is None
    members.sign_in_member(request, member)
    assert request.session[members.SESSION_KEY] == member.pk
    fresh = RequestFactory().get("/")
    fresh.session = request.session
    assert members.current_member(fresh) == member
    members.sign_out_member(fresh)
    assert members.current_member(fresh) is None


def test_membership_in_subtree(nodes):
    member = make_member(nodes["jangan"])
    assert members.is_member_in_subtree(member, nodes["suwon"])
    assert members.is_member_in_subtree(member, nodes["gyeonggi"])
    assert not members.is_member_in_subtree(member, nodes["seongnam"])
    assert not members.is_member_in_subtree(None, nodes["suwon"])
