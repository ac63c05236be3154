"""API representations of the framework library."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from compliance.models import Control, ControlGroup, ControlMapping, Framework
from config.api.links import absolute


class FrameworkSerializer(serializers.ModelSerializer):
    control_count = serializers.IntegerField(read_only=True, help_text="How many live controls it has.")
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField(help_text="Its page in Greenlight.")

    class Meta:
        model = Framework
        fields = [
            "slug",
            "name",
            "version",
            "version_label",
            "publisher",
            "effective_date",
            "jurisdiction",
            "source_url",
            "description",
            "control_count",
            "url",
            "web_url",
        ]

    def get_url(self, framework: Framework) -> str:
        return absolute(self.context, reverse("api_framework_detail", kwargs={"framework_slug": framework.slug}))

    def get_web_url(self, framework: Framework) -> str:
        return absolute(self.context, framework.get_absolute_url())


class GroupSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(
        source="parent.ref", default=None, read_only=True, allow_null=True, help_text="The parent group's ref."
    )  # type: ignore[assignment]

    class Meta:
        model = ControlGroup
        fields = ["ref", "kind", "title", "parent"]


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    help = serializers.CharField(source="help_text")


class ControlSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="framework.slug", read_only=True, help_text="The framework's slug.")
    group = serializers.CharField(source="group.ref", read_only=True, help_text="Its group's ref.")  # type: ignore[assignment]
    questions = QuestionSerializer(
        source="live_questions", many=True, read_only=True, help_text="The assessment's questions about it, in order."
    )
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField(help_text="Its page in Greenlight.")

    class Meta:
        model = Control
        fields = [
            "id",
            "framework",
            "group",
            "ref",
            "title",
            "description",
            "guidance",
            "typical_evidence",
            "weight",
            "applies_if",
            "auto_fail",
            "assessable",
            "retired_at",
            "questions",
            "url",
            "web_url",
        ]
        extra_kwargs = {"retired_at": {"help_text": "When it left the library; null while it is live."}}

    def get_url(self, control: Control) -> str:
        return absolute(self.context, reverse("api_control_detail", kwargs={"control_id": control.pk}))

    def get_web_url(self, control: Control) -> str:
        return absolute(self.context, control.get_absolute_url())


class MappingSerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField(help_text="The source control as `framework-slug:ref`.")  # type: ignore[assignment]
    target = serializers.SerializerMethodField(help_text="The target control as `framework-slug:ref`.")
    source_id = serializers.IntegerField(read_only=True, help_text="The source control's id.")
    target_id = serializers.IntegerField(read_only=True, help_text="The target control's id.")

    class Meta:
        model = ControlMapping
        fields = ["id", "source", "target", "source_id", "target_id", "relationship", "rationale"]

    def get_source(self, mapping: ControlMapping) -> str:
        return f"{mapping.source.framework.slug}:{mapping.source.ref}"

    def get_target(self, mapping: ControlMapping) -> str:
        return f"{mapping.target.framework.slug}:{mapping.target.ref}"
