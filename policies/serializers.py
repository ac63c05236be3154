"""API representations of policies and their text."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance.models import Control
from config.api.links import absolute_reverse
from evidence.serializers import OwnerSerializer
from policies.models import Policy, PolicyVersion, SectionOrigin
from policies.rendering import markdown_html


class PolicyControlSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="framework.slug", read_only=True, help_text="The framework's slug.")

    class Meta:
        model = Control
        fields = ("id", "ref", "title", "framework")
        read_only_fields = fields


class PolicySerializer(serializers.ModelSerializer):
    """A policy as the list shows it (from `policies.selectors.policies_for`)."""

    url = serializers.SerializerMethodField()
    latest_version = serializers.IntegerField(
        source="latest_number", read_only=True, allow_null=True, help_text="The number of the newest version."
    )
    published_version = serializers.IntegerField(
        source="published_number",
        read_only=True,
        allow_null=True,
        help_text="The number of the version in force: the newest published one.",
    )
    published_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the version in force was published."
    )
    next_review_date = serializers.DateField(source="review_date", read_only=True, allow_null=True)
    owner = OwnerSerializer(read_only=True, allow_null=True)
    controls = PolicyControlSerializer(many=True, read_only=True)
    export_url = serializers.SerializerMethodField(help_text="PDF or Word (`?format=docx`); null with no text yet.")

    class Meta:
        model = Policy
        fields: tuple[str, ...] = (
            "id",
            "url",
            "title",
            "status",
            "latest_version",
            "published_version",
            "published_at",
            "next_review_date",
            "owner",
            "controls",
            "export_url",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_url(self, policy: Policy) -> str:
        return absolute_reverse(
            self.context, "api_policy_detail", organisation_slug=self.context["organisation_slug"], policy_id=policy.pk
        )

    def get_export_url(self, policy: Policy) -> str | None:
        if getattr(policy, "latest_number", None) is None:
            return None
        return absolute_reverse(
            self.context, "api_policy_export", organisation_slug=self.context["organisation_slug"], policy_id=policy.pk
        )


class SectionSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True, help_text="The section's text, in Markdown.")
    html = serializers.SerializerMethodField(help_text="The text as the policy page shows it: sanitised HTML.")
    origin = serializers.ChoiceField(choices=SectionOrigin.choices, read_only=True)

    def get_html(self, section: dict[str, Any]) -> str:
        return str(markdown_html(str(section.get("body", ""))))

    def to_representation(self, section: Any) -> dict[str, Any]:
        section = {"key": "", "title": "", "body": "", "origin": SectionOrigin.TEMPLATE, **section}
        return dict(super().to_representation(section))


class PolicyVersionSerializer(serializers.ModelSerializer):
    sections = SectionSerializer(many=True, read_only=True)
    markdown = serializers.CharField(read_only=True, help_text="The whole text as one Markdown document.")
    is_published = serializers.BooleanField(read_only=True)

    class Meta:
        model = PolicyVersion
        fields = (
            "number",
            "title",
            "is_published",
            "created_at",
            "updated_at",
            "approved_at",
            "published_at",
            "sections",
            "markdown",
        )
        read_only_fields = fields


class PolicyDetailSerializer(PolicySerializer):
    """A policy with the text of one version: the one in force, else the newest (or `?version=`)."""

    version = serializers.SerializerMethodField()

    class Meta(PolicySerializer.Meta):
        fields = (*PolicySerializer.Meta.fields, "version")
        read_only_fields = fields

    @extend_schema_field(PolicyVersionSerializer(allow_null=True))
    def get_version(self, policy: Policy) -> dict[str, Any] | None:
        version = self.context.get("version")
        return dict(PolicyVersionSerializer(version, context=self.context).data) if version is not None else None
