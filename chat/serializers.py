"""API representations of the assistant's questions and answers."""

from __future__ import annotations

from rest_framework import serializers

from chat.citations import CONTROL, Citation
from chat.organisation_context import CONTEXT_KINDS
from chat.retrieval import framework_label
from chat.services import MAX_QUESTION_CHARS
from config.api.links import absolute


class QuestionSerializer(serializers.Serializer):
    question = serializers.CharField(
        max_length=MAX_QUESTION_CHARS,
        help_text=f"The question, in plain words; at most {MAX_QUESTION_CHARS:,} characters.",
        error_messages={
            "blank": "Type a question first.",
            "max_length": f"Questions can be at most {MAX_QUESTION_CHARS:,} characters.",
        },
    )
    framework = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        default="",
        help_text="A framework's slug (see `/frameworks/`): its controls are preferred as sources.",
    )


class CitationSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="`control` (a library control), `policy` or `evidence` (one of the organisation's own), or "
        "`readiness` or `profile` (the organisation's figures as Greenlight calculates them).",
    )
    label = serializers.SerializerMethodField(help_text='How the answer cites it, e.g. "UK GDPR 33".')  # type: ignore[assignment]
    framework = serializers.CharField(help_text="The control's framework slug; empty for other kinds.")
    ref = serializers.CharField(help_text="The control's ref, or the policy's or evidence item's id.")
    title = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="Where to read it in Greenlight.")

    def get_label(self, citation: Citation) -> str:
        if citation.kind == CONTROL:
            return f"{framework_label(citation.framework)} {citation.ref}"
        if citation.kind in CONTEXT_KINDS:
            return f"your {citation.kind}"
        return f"{citation.kind} {citation.ref}"

    def get_url(self, citation: Citation) -> str:
        return absolute(self.context, citation.url)


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(source="text", help_text="The answer, in Markdown.")
    citations = CitationSerializer(many=True, help_text="Every source the answer used, each checked to exist.")
    provider = serializers.CharField(help_text='Which AI provider wrote the answer; "offline" when none was used.')
