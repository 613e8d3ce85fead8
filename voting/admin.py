"""Django admin for support staff; officials use the voting UI. The audit log is read-only here too."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Candidate, Election, ElectionRole, Kiosk, OfficialAction, PollingStation, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name_ko", "name_en", "kind", "parent")
    list_filter = ("kind",)


@admin.register(PollingStation)
class PollingStationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "region")
    search_fields = ("code", "name")


@admin.register(Kiosk)
class KioskAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("station", "label", "registered_at", "revoked_at")
    readonly_fields = ("credential_sha256",)


class CandidateInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Candidate
    extra = 0


@admin.register(Election)
class ElectionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "status", "opens_at", "closes_at", "ledger_id")
    list_filter = ("status",)
    readonly_fields = ("status", "ledger_id")
    inlines = [CandidateInline]


@admin.register(ElectionRole)
class ElectionRoleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("election", "user", "role", "station")


@admin.register(OfficialAction)
class OfficialActionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "election", "actor", "action")
    list_filter = ("action",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
