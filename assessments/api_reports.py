"""Reports in the API: ask for a readiness report, follow its progress, download the PDF.

Reports are built in the background exactly as on the Reports page (assessments.services_reports): asking
answers 202 with the run to poll; the file is served only here, after the organisation check.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from assessments import services_reports
from assessments.models import ReportRun, ReportStatus
from assessments.reports import builder_for
from assessments.serializers_reports import ReportRequestSerializer, ReportRunSerializer
from config.api.idempotency import idempotent
from config.api.negotiation import FileResponseNegotiation
from config.api.views import OrganisationAPIView

# The file is a download, never a page of this site: nothing in it may run or load.
SANDBOX = "sandbox; default-src 'none'"

RUN_EXAMPLE = OpenApiExample(
    "A finished readiness report",
    value={
        "id": 412,
        "kind": "readiness",
        "status": "done",
        "progress": 100,
        "message": "Ready to download",
        "error": "",
        "size": 184_320,
        "sha256": "9f2c4e1b7a0d5c3e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
        "created_at": "2026-11-21T09:14:03Z",
        "started_at": "2026-11-21T09:14:04Z",
        "finished_at": "2026-11-21T09:14:19Z",
        "url": "https://greenlight.example/api/v1/organisations/acme-bakery/reports/412/",
        "download_url": "https://greenlight.example/api/v1/organisations/acme-bakery/reports/412/download/",
    },
    response_only=True,
)
QUEUED_EXAMPLE = OpenApiExample(
    "A report waiting to start",
    value={
        "id": 413,
        "kind": "readiness",
        "status": "queued",
        "progress": 0,
        "message": "Waiting to start",
        "error": "",
        "size": 0,
        "sha256": "",
        "created_at": "2026-11-21T10:02:41Z",
        "started_at": None,
        "finished_at": None,
        "url": "https://greenlight.example/api/v1/organisations/acme-bakery/reports/413/",
        "download_url": None,
    },
    response_only=True,
    status_codes=["202"],
)


class ReportNotReady(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This report is still being built. Poll the run and download it once its status is done."
    default_code = "report_not_ready"


class ReportRunView(OrganisationAPIView):
    serializer_class = ReportRunSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "organisation_slug": self.kwargs.get("organisation_slug", "")}

    def get_queryset(self) -> QuerySet[ReportRun]:
        if getattr(self, "swagger_fake_view", False):
            return ReportRun.objects.none()
        return ReportRun.objects.filter(organisation_id=self.organisation.pk)


@extend_schema_view(
    get=extend_schema(
        operation_id="reports_list",
        summary="List report runs",
        description="Every report asked for, newest first: its progress while building, then its file's size "
        "and checksum and where to download it.",
        examples=[RUN_EXAMPLE],
    ),
)
class ReportList(mixins.ListModelMixin, ReportRunView):
    scopes = {"GET": Scope.REPORTS_READ, "POST": Scope.REPORTS_WRITE}
    filterset_fields = ("status", "kind")
    ordering_fields = ("created_at",)

    def get(self, request: Request, organisation_slug: str) -> Response:
        return self.list(request)

    @extend_schema(
        operation_id="reports_request",
        summary="Ask for a report",
        description="Queues a report to be built in the background and answers at once with the run (202); "
        "poll its `url` until `status` is `done` (or `failed`), then fetch `download_url`. Asking again for "
        "the same report while one is on its way returns that run.",
        request=ReportRequestSerializer,
        responses={202: OpenApiResponse(ReportRunSerializer, description="The run, queued or already on its way.")},
        examples=[OpenApiExample("A readiness report", value={"kind": "readiness"}, request_only=True), QUEUED_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        serializer = ReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services_reports.report_request(
            organisation=self.organisation, actor=self.actor, kind=serializer.validated_data["kind"]
        )
        data = self.get_serializer(run).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class ReportDetail(ReportRunView):
    scopes = {"GET": Scope.REPORTS_READ}

    @extend_schema(
        operation_id="reports_retrieve",
        summary="A report run's progress",
        description="The run's status (`queued`, `running`, `done` or `failed`), progress in percent and, "
        "when it failed, why.",
        examples=[RUN_EXAMPLE],
    )
    def get(self, request: Request, organisation_slug: str, reportrun_id: int) -> Response:
        run = self.get_tenant_object(self.get_queryset(), reportrun_id)
        return Response(self.get_serializer(run).data)


class ReportDownload(ReportRunView):
    scopes = {"GET": Scope.REPORTS_READ}
    content_negotiation_class = FileResponseNegotiation

    @extend_schema(
        operation_id="reports_download",
        summary="Download a report",
        description="The finished report's file (a PDF for the readiness report). A run still being built "
        "answers 409; one that failed has no file and answers 404.",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The report's file."),
            (409, "application/problem+json"): OpenApiResponse(
                {"$ref": "#/components/schemas/Problem"},
                description="The report is still being built: poll the run, then download it once it is done.",
            ),
        },
    )
    def get(self, request: Request, organisation_slug: str, reportrun_id: int) -> FileResponse:
        run = self.get_tenant_object(self.get_queryset(), reportrun_id)
        if run.status in (ReportStatus.QUEUED, ReportStatus.RUNNING) and not run.is_lost:
            raise ReportNotReady()
        if run.status != ReportStatus.DONE or not run.file:
            raise NotFound("This report has no file to download: it could not be built. Ask for it again.")
        builder = builder_for(run.kind)
        name = str(run.file.name)
        try:
            handle = default_storage.open(name, "rb")
        except OSError:  # the row is there, its file is not
            raise NotFound("This report's file is missing. Ask for the report again.") from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=PurePosixPath(name).name,
            content_type=builder.content_type if builder else "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = SANDBOX
        response["Cache-Control"] = "private, no-store"
        return response
