"""Building community trees, members and managers for the communities tests (through the services)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from communities.models import Community, CommunityManager, Member, Membership
from communities.services import tree


def make_superuser(name: str = "root") -> Any:
    return get_user_model().objects.create_superuser(name, f"{name}@example.org", None)  # no hashing: fast


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name, f"{name}@example.org", None)


def make_node(by_user: Any, parent: Community | None, slug: str, **fields: Any) -> Community:
    return tree.create_community(by_user, parent=parent, slug=slug, name=fields.pop("name", slug.title()), **fields)


def make_manager(user: Any, community: Community) -> CommunityManager:
    return CommunityManager.objects.create(user=user, community=community)


def make_member(community: Community, name: str = "member", via: str = "invite") -> Member:
    member = Member.objects.create(display_name=name)
    Membership.objects.create(member=member, community=community, joined_via=via)
    return member


def build_province(admin: Any) -> dict[str, Community]:
    """province > city (2) > district; returns the nodes by slug."""
    province = make_node(admin, None, "gyeonggi", name="경기도")
    suwon = make_node(admin, province, "suwon", name="수원시")
    seongnam = make_node(admin, province, "seongnam", name="성남시")
    jangan = make_node(admin, suwon, "jangan", name="장안구")
    return {"gyeonggi": province, "suwon": suwon, "seongnam": seongnam, "jangan": jangan}
