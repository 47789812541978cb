"""The audit log in Django's admin: read-only (no add, change or delete, not even in bulk)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from adminsite.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "username",
        "action",
        "org_id",
        "org_name",
        "target",
        "outcome",
        "status_code",
    ]
    list_filter = ["action", "outcome"]
    search_fields = ["username", "org_id", "org_name", "connection_id", "member_id"]
    date_hierarchy = "created_at"
    list_select_related = ["restores"]
    readonly_fields = [f.name for f in AuditEntry._meta.get_fields() if f.concrete]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
