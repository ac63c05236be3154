"""API representation of the audit log."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "created_at", "actor_label", "action", "object_type", "object_id", "summary")
        read_only_fields = fields
        extra_kwargs = {
            "actor_label": {"help_text": "Who acted: a person's email, an API key's name, or `system`."},
            "action": {"help_text": "What happened, as `<area>.<verb>`, e.g. `report.requested`."},
            "object_type": {"help_text": "The kind of object it happened to, as `<app>.<model>`; may be empty."},
            "object_id": {"help_text": "That object's id, as text; may be empty."},
            "summary": {"help_text": "What happened, in words."},
        }
