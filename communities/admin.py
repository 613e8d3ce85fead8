"""Django admin for support staff (read-mostly); managers use the community pages.

Structure (parent, path, depth) is read-only here: the materialised path must only change
through communities.services.tree, which rewrites a moved subtree in one transaction.
Endorsement counts and statuses are read-only for the same reason (conditional updates).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Community, CommunityManager, Endorsement, Invitation, Member, Membership, Proposal


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug", "depth", "path", "endorsement_threshold", "weighted_voting")
    search_fields = ("name", "name_en", "slug")
    readonly_fields = ("parent", "slug", "path", "depth", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # new nodes need a path: created through the community pages

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting is refused unless empty: the community pages check that


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("display_name", "user", "created_at")
    search_fields = ("display_name",)
    readonly_fields = ("phone_hmac", "created_at")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("member", "community", "joined_via", "created_at")
    list_filter = ("joined_via",)
    raw_id_fields = ("member", "community")


@admin.register(CommunityManager)
class CommunityManagerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "community", "created_at")
    raw_id_fields = ("community",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("community", "created_at", "expires_at", "uses", "max_uses", "revoked_at")
    readonly_fields = ("token_sha256", "uses", "created_at", "created_by", "community")


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "community", "status", "endorsement_count", "threshold", "created_at")
    list_filter = ("status",)
    readonly_fields = ("community", "author", "status", "endorsement_count", "threshold", "parent_proposal",
                       "decided_at")


@admin.register(Endorsement)
class EndorsementAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("proposal", "member", "created_at")
    raw_id_fields = ("proposal", "member")
