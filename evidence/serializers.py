"""API representations of evidence, and the shapes of uploads and updates.

The serializers only parse and present; `evidence.services.items` decides what is allowed and stores it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rest_framework import serializers

from accounts.models import User
from compliance.models import Control
from config.api.links import absolute_reverse
from evidence.forms_items import MAX_CONTROLS
from evidence.forms_register import MAX_ID
from evidence.kinds import EvidenceType
from evidence.models import Evidence, EvidenceForm, EvidenceRevision, EvidenceStatus
from evidence.services.items import MAX_NOTE_CHARS

NEW_STATUSES = [(EvidenceStatus.SUBMITTED.value, "Submitted"), (EvidenceStatus.DRAFT.value, "Draft")]


class OwnerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = User
        fields = ("id", "name", "email")
        read_only_fields = fields


class MappedControlSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="framework.slug", read_only=True, help_text="The framework's slug.")

    class Meta:
        model = Control
        fields = ("id", "ref", "title", "framework")
        read_only_fields = fields


class EvidenceFileSerializer(serializers.ModelSerializer):
    """The current file: the latest revision of a file item."""

    name = serializers.CharField(source="original_name", read_only=True)
    revision = serializers.IntegerField(source="number", read_only=True)

    class Meta:
        model = EvidenceRevision
        fields = ("name", "size", "content_type", "sha256", "revision", "uploaded_at")
        read_only_fields = fields


class EvidenceSerializer(serializers.ModelSerializer):
    """One evidence item as lists show it."""

    url = serializers.SerializerMethodField()
    kind = serializers.ChoiceField(
        source="form", choices=EvidenceForm.choices, read_only=True, help_text="A file, a link or a written note."
    )
    link = serializers.SerializerMethodField(help_text="The web address of a link item; null for files and notes.")
    owner = OwnerSerializer(read_only=True, allow_null=True)
    controls = MappedControlSerializer(many=True, read_only=True)
    file = EvidenceFileSerializer(source="current_revision", read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields: tuple[str, ...] = (
            "id",
            "url",
            "title",
            "kind",
            "evidence_type",
            "status",
            "source",
            "controls",
            "collected_on",
            "valid_until",
            "owner",
            "link",
            "file",
            "download_url",
            "quality",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_url(self, evidence: Evidence) -> str:
        return absolute_reverse(
            self.context, "api_evidence_detail", organisation_slug=self._slug(evidence), evidence_id=evidence.pk
        )

    def get_link(self, evidence: Evidence) -> str | None:
        return evidence.url if evidence.form == EvidenceForm.LINK else None

    def get_download_url(self, evidence: Evidence) -> str | None:
        if evidence.current_revision_id is None:
            return None
        return absolute_reverse(
            self.context, "api_evidence_download", organisation_slug=self._slug(evidence), evidence_id=evidence.pk
        )

    def _slug(self, evidence: Evidence) -> str:
        # The organisation is the one in the URL; reading it from each row would cost a query per row.
        return str(self.context["organisation_slug"])


class EvidenceDetailSerializer(EvidenceSerializer):
    """One item in full: with its description, a note's text and the latest review."""

    class Meta(EvidenceSerializer.Meta):
        fields = (
            *EvidenceSerializer.Meta.fields[:3],
            "description",
            *EvidenceSerializer.Meta.fields[3:],
            "note",
            "reviewer_comment",
            "reviewed_at",
        )
        read_only_fields = fields


class OwnerField(serializers.PrimaryKeyRelatedField):
    """A member of the organisation, by user id (the service checks membership again)."""

    default_error_messages = {
        "does_not_exist": "The owner must be a member of the organisation.",
        "incorrect_type": "Give the owner as a user id.",
    }

    def get_queryset(self) -> Any:
        return User.objects.filter(memberships__organisation=self.context["organisation"])


def _control_ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_CONTROLS,
        help_text="Ids of library controls (see `/api/v1/controls/`).",
    )


class EvidenceDetailsInputSerializer(serializers.Serializer):
    """What can be said about an item whatever its kind; blank dates take the type's usual period."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    evidence_type = serializers.ChoiceField(choices=EvidenceType.choices, required=False)
    owner = OwnerField(queryset=User.objects.all(), required=False, allow_null=True, help_text="A member's user id.")
    collected_on = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Leave out for the evidence type's usual period from the collected date.",
    )
    controls = _control_ids()

    def validate_collected_on(self, value: Any) -> Any:
        if value is not None and value > date.today():
            raise serializers.ValidationError("The date it was collected cannot be in the future.")
        return value


class EvidenceCreateSerializer(EvidenceDetailsInputSerializer):
    """A new item: a file (multipart), or, as JSON or a form, a link or a written note."""

    kind = serializers.ChoiceField(choices=EvidenceForm.choices, default=EvidenceForm.FILE)
    file = serializers.FileField(
        required=False, allow_empty_file=True, use_url=False, help_text="The file, for `kind` file (the default)."
    )
    url = serializers.URLField(max_length=2000, required=False, help_text="The web address, for `kind` link.")
    note = serializers.CharField(
        max_length=MAX_NOTE_CHARS, required=False, help_text="What the note records, for `kind` note."
    )
    status = serializers.ChoiceField(
        choices=NEW_STATUSES,
        default=EvidenceStatus.SUBMITTED,
        help_text="`submitted` counts towards readiness at once; `draft` keeps it back.",
    )
    allow_duplicate = serializers.BooleanField(
        default=False, help_text="Store it even if the same file or link is already evidence (otherwise 409)."
    )

    NEEDED = {EvidenceForm.FILE: "file", EvidenceForm.LINK: "url", EvidenceForm.NOTE: "note"}
    MESSAGES = {
        "file": "Choose a file to upload.",
        "url": "Enter the web address.",
        "note": "Write what the note records.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["kind"]
        needed = self.NEEDED[kind]
        errors: dict[str, str] = {}
        if attrs.get(needed) in (None, ""):
            errors[needed] = self.MESSAGES[needed]
        for other in set(self.NEEDED.values()) - {needed}:
            if other in attrs:
                errors[other] = f"Only evidence of kind {self._kind_for(other)} takes `{other}`."
        if kind != EvidenceForm.FILE and not attrs.get("title"):
            errors["title"] = "Give it a title that says what it shows."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _kind_for(self, field: str) -> str:
        return next(kind for kind, name in self.NEEDED.items() if name == field)


class EvidenceUpdateSerializer(EvidenceDetailsInputSerializer):
    """Change an item: any of its details, a note's text, or `controls`, the full set of mapped controls."""

    note = serializers.CharField(max_length=MAX_NOTE_CHARS, required=False, help_text="A note item's text.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs
