from __future__ import annotations

from rest_framework import serializers

from compliance.models import Control, ControlGroup, ControlMapping, Framework


class FrameworkSerializer(serializers.ModelSerializer):
    control_count = serializers.IntegerField(read_only=True)

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
        ]


class GroupSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.ref", default=None, read_only=True)  # type: ignore[assignment]

    class Meta:
        model = ControlGroup
        fields = ["ref", "kind", "title", "parent"]


class ControlSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="framework.slug", read_only=True)
    group = serializers.CharField(source="group.ref", read_only=True)  # type: ignore[assignment]
    questions = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

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
            "questions",
            "url",
        ]

    def get_questions(self, control: Control) -> list[dict[str, str]]:
        return [{"key": q.key, "text": q.text, "help": q.help_text} for q in getattr(control, "live_questions", [])]

    def get_url(self, control: Control) -> str:
        request = self.context.get("request")
        path = control.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class MappingSerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()  # type: ignore[assignment]
    target = serializers.SerializerMethodField()

    class Meta:
        model = ControlMapping
        fields = ["id", "source", "target", "relationship", "rationale"]

    def get_source(self, mapping: ControlMapping) -> str:
        return f"{mapping.source.framework.slug}:{mapping.source.ref}"

    def get_target(self, mapping: ControlMapping) -> str:
        return f"{mapping.target.framework.slug}:{mapping.target.ref}"
