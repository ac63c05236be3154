"""Policies in the partner API, read-only: the list, one policy with its text, and the same PDF and Word
documents the policy page exports.

A key sees what a viewer sees on the pages: every policy, and the text of any of its versions.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from compliance.models import Control
from config.api.negotiation import FileResponseNegotiation
from config.api.pagination import StableOrderingFilter
from config.api.views import OrganisationAPIView
from policies import selectors, services
from policies.exports import export_filename
from policies.models import Policy, PolicyStatus, PolicyVersion
from policies.serializers import PolicyDetailSerializer, PolicySerializer

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXPORT_TYPES = {"pdf": PDF, "docx": DOCX}


class PolicyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PolicyStatus.choices)

    class Meta:
        model = Policy
        fields = ("status",)


class VersionQuery(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="A version number; by default the version in force, else the newest.",
    )


class ExportQuery(VersionQuery):
    format = serializers.ChoiceField(choices=list(EXPORT_TYPES), default="pdf")


VERSION_PARAMETER = OpenApiParameter(
    "version",
    OpenApiTypes.INT,
    description="A version number; by default the version in force (the newest published), else the newest.",
)


class PolicyViewMixin(OrganisationAPIView):
    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context["organisation_slug"] = self.kwargs.get("organisation_slug", "")
        return context

    def policies(self) -> QuerySet[Policy]:
        """The organisation's policies with what their representation reads, in a fixed number of queries."""
        published_at = (
            PolicyVersion.objects.filter(policy=OuterRef("pk"), published_at__isnull=False)
            .order_by("-number")
            .values("published_at")[:1]
        )
        controls = Control.objects.select_related("framework").order_by("framework__position", "position")
        return (
            selectors.policies_for(self.organisation)
            .annotate(published_at=Subquery(published_at))
            .prefetch_related(Prefetch("controls", queryset=controls))
        )

    def version_of(self, policy: Policy, query: dict[str, Any]) -> PolicyVersion | None:
        """The version asked for (404 if it does not exist), else the one in force, else the newest."""
        number = query.get("version")
        if number is None:
            return services.published_version(policy) or services.latest_version(policy)
        version = PolicyVersion.objects.filter(policy=policy, number=number).first()
        if version is None:
            raise NotFound(f"This policy has no version {number}.")
        return version


class PolicyList(mixins.ListModelMixin, PolicyViewMixin):
    """The organisation's policies."""

    scopes = {"GET": Scope.POLICIES_READ}
    serializer_class = PolicySerializer
    filterset_class = PolicyFilter
    filter_backends = (django_filters.rest_framework.DjangoFilterBackend, StableOrderingFilter)
    ordering_fields = ("created_at", "updated_at", "title")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Policy]:
        if getattr(self, "swagger_fake_view", False):
            return Policy.objects.none()
        return self.policies()

    @extend_schema(
        operation_id="policy_list",
        examples=[
            OpenApiExample(
                "A page of policies",
                response_only=True,
                value={
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": 31,
                            "url": "https://greenlight.example/api/v1/organisations/acme-bakery/policies/31/",
                            "title": "Information Security Policy",
                            "status": "published",
                            "latest_version": 3,
                            "published_version": 3,
                            "published_at": "2026-11-21T10:02:00Z",
                            "next_review_date": "2027-11-21",
                            "owner": {"id": 7, "name": "Priya Shah", "email": "priya@acme-bakery.co.uk"},
                            "controls": [
                                {
                                    "id": 12,
                                    "ref": "A.5.1",
                                    "title": "Policies for information security",
                                    "framework": "iso-27001",
                                },
                            ],
                            "export_url": "https://greenlight.example/api/v1/organisations/acme-bakery/policies/31/"
                            "export/",
                            "created_at": "2026-09-02T08:30:00Z",
                            "updated_at": "2026-11-21T10:02:00Z",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        return self.list(request)


class PolicyDetail(PolicyViewMixin):
    """One policy with the text of a version, as the policy page shows it."""

    scopes = {"GET": Scope.POLICIES_READ}
    serializer_class = PolicyDetailSerializer
    queryset = Policy.objects.none()

    @extend_schema(operation_id="policy_retrieve", parameters=[VERSION_PARAMETER])
    def get(self, request: Request, organisation_slug: str, policy_id: int) -> Response:
        policy = self.get_tenant_object(self.policies(), policy_id)
        query = VersionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        context = {**self.get_serializer_context(), "version": self.version_of(policy, query.validated_data)}
        return Response(PolicyDetailSerializer(policy, context=context).data)


class PolicyExport(PolicyViewMixin):
    """A version of the policy as a document: the same PDF or Word file the policy page exports."""

    scopes = {"GET": Scope.POLICIES_READ}
    queryset = Policy.objects.none()
    content_negotiation_class = FileResponseNegotiation

    @extend_schema(
        operation_id="policy_export",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(EXPORT_TYPES), default="pdf"),
            VERSION_PARAMETER,
        ],
        responses={
            (200, PDF): OpenApiResponse(OpenApiTypes.BINARY, description="The policy as a PDF (`format=pdf`)."),
            (200, DOCX): OpenApiResponse(OpenApiTypes.BINARY, description="The policy as Word (`format=docx`)."),
        },
    )
    def get(self, request: Request, organisation_slug: str, policy_id: int) -> HttpResponse:
        policy = self.get_tenant_object(Policy.objects.all(), policy_id)
        query = ExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = self.version_of(policy, query.validated_data)
        if version is None:
            raise NotFound("This policy has no text yet, so there is nothing to export. Draft it first.")
        version = PolicyVersion.objects.select_related("policy__owner", "organisation", "approved_by").get(
            pk=version.pk
        )
        kind = query.validated_data["format"]
        # Imported here: the export modules load reportlab and python-docx, which only this view needs.
        if kind == "pdf":
            from policies.exports.pdf import policy_pdf

            content = policy_pdf(version)
        else:
            from policies.exports.docx import policy_docx

            content = policy_docx(version)
        response = HttpResponse(content, content_type=EXPORT_TYPES[kind])
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=export_filename(version, kind)
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
