"""API representations of report runs."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from assessments.models import ReportKind, ReportRun, ReportStatus
from config.api.links import absolute


class ReportRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(
        help_text="Where to download the file once `status` is `done`; null until then."
    )

    class Meta:
        model = ReportRun
        fields = (
            "id",
            "kind",
            "status",
            "progress",
            "message",
            "error",
            "size",
            "sha256",
            "created_at",
            "started_at",
            "finished_at",
            "url",
            "download_url",
        )
        read_only_fields = fields
        extra_kwargs = {
            "progress": {"help_text": "How far the build has got, in percent."},
            "message": {"help_text": "What the build is doing now, in words."},
            "error": {"help_text": "Why the report could not be built, when `status` is `failed`."},
            "size": {"help_text": "The file's size in bytes, once built."},
            "sha256": {"help_text": "The file's SHA-256, in hex, once built: check the download against it."},
        }

    def _path(self, run: ReportRun, name: str) -> str:
        organisation_slug = self.context["organisation_slug"]
        return reverse(name, kwargs={"organisation_slug": organisation_slug, "reportrun_id": run.pk})

    def get_url(self, run: ReportRun) -> str:
        return absolute(self.context, self._path(run, "api_report_detail"))

    def get_download_url(self, run: ReportRun) -> str | None:
        if run.status != ReportStatus.DONE or not run.file:
            return None
        return absolute(self.context, self._path(run, "api_report_download"))


class ReportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=ReportKind.choices,
        default=ReportKind.READINESS,
        help_text="Which report to build; the readiness report is the only kind so far.",
    )
