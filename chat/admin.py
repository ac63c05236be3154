from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from chat.models import AICall


@admin.register(AICall)
class AICallAdmin(admin.ModelAdmin):
    """The record of AI calls: read-only, like the audit log."""

    list_display = [
        "created_at",
        "organisation",
        "feature",
        "provider",
        "model",
        "outcome",
        "tokens_in",
        "tokens_out",
        "latency_ms",
        "cost_estimate",
    ]
    list_filter = ["provider", "outcome", "feature"]
    list_select_related = ["organisation"]
    search_fields = ["organisation__name", "feature", "model", "request_id"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AICall._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
