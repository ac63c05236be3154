"""Evidence in the partner API: the register with its filters, uploads (a file, a link or a note), an
item's details and control mapping, and downloading its current file.

Every write goes through `evidence.services.items`, with the same intake checks as the pages (size,
type sniffing, pixel and zip bombs): a refused upload stores nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django import forms
from django.core.files.storage import default_storage
from django.db.models import DateField, Exists, OuterRef, Prefetch, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from compliance.models import Control
from config.api.idempotency import idempotent
from config.api.negotiation import FileResponseNegotiation
from config.api.pagination import StableOrderingFilter
from config.api.views import OrganisationAPIView
from evidence import selectors
from evidence.forms_items import title_from_name, type_for_upload
from evidence.forms_register import MAX_ID
from evidence.intake import UploadRefused
from evidence.kinds import EvidenceType
from evidence.models import Evidence, EvidenceForm, EvidenceSource, EvidenceStatus
from evidence.serializers import (
    EvidenceCreateSerializer,
    EvidenceDetailSerializer,
    EvidenceSerializer,
    EvidenceUpdateSerializer,
)
from evidence.services import items as services
from evidence.services.items import EvidenceDetails
from evidence.services.storage import StorageFull

# Long text a list never shows: left in the database so a page of rows stays small.
UNLISTED_FIELDS = ("description", "note", "extracted_text", "reviewer_comment")
# Items without a valid-until date sort as never expiring (a cursor cannot stand on a null).
NEVER = date(9999, 12, 31)
SANDBOX = "sandbox; default-src 'none'"


class DuplicateConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This is already evidence of the organisation."


class InsufficientStorage(APIException):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_detail = StorageFull.message


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class EvidenceFilter(django_filters.FilterSet):
    """The register page's filters, plus `kind` and `expiring_before`."""

    q = django_filters.CharFilter(method="search", max_length=200, help_text="Words in the title or description.")
    status = django_filters.ChoiceFilter(choices=EvidenceStatus.choices)
    kind = django_filters.ChoiceFilter(field_name="form", choices=EvidenceForm.choices, help_text="file, link or note.")
    evidence_type = django_filters.ChoiceFilter(choices=EvidenceType.choices)
    source = django_filters.ChoiceFilter(choices=EvidenceSource.choices)
    owner = IdFilter(method="owned_by", min_value=0, max_value=MAX_ID, help_text="The owner's user id; 0 for nobody.")
    framework = django_filters.CharFilter(
        method="mapped_to_framework", help_text="A framework's slug: items mapped to any of its controls."
    )
    control = django_filters.CharFilter(
        method="mapped_to_control",
        max_length=40,
        help_text="Items mapped to this control: its id (digits only), or its ref (such as `A.5.1`); with "
        "`framework`, the ref in that framework.",
    )
    expiry = django_filters.ChoiceFilter(
        method="by_expiry", choices=list(selectors.EXPIRY_FILTERS.items()), help_text="As the register's filter."
    )
    expiring_before = django_filters.DateFilter(
        field_name="valid_until", lookup_expr="lt", help_text="Valid until a date before this one (ISO 8601)."
    )

    class Meta:
        model = Evidence
        fields = ("q", "status", "kind", "evidence_type", "source", "owner", "framework", "control")

    def search(self, queryset: QuerySet[Evidence], name: str, value: str) -> QuerySet[Evidence]:
        return self._in_register(queryset, selectors.RegisterFilters(q=value.strip()))

    def mapped_to_framework(self, queryset: QuerySet[Evidence], name: str, value: str) -> QuerySet[Evidence]:
        mapped = Evidence.controls.through.objects.filter(evidence=OuterRef("pk"), control__framework__slug=value)
        return queryset.filter(Exists(mapped))

    def mapped_to_control(self, queryset: QuerySet[Evidence], name: str, value: str) -> QuerySet[Evidence]:
        value = value.strip()
        if value.isdigit():
            if int(value) > MAX_ID:
                return queryset.none()
            mapped = Evidence.controls.through.objects.filter(evidence=OuterRef("pk"), control_id=int(value))
        else:
            mapped = Evidence.controls.through.objects.filter(evidence=OuterRef("pk"), control__ref=value)
            if framework := self.form.cleaned_data.get("framework"):
                mapped = mapped.filter(control__framework__slug=framework)
        return queryset.filter(Exists(mapped))

    def owned_by(self, queryset: QuerySet[Evidence], name: str, value: int) -> QuerySet[Evidence]:
        return queryset.filter(owner__isnull=True) if value == 0 else queryset.filter(owner_id=value)

    def by_expiry(self, queryset: QuerySet[Evidence], name: str, value: str) -> QuerySet[Evidence]:
        return self._in_register(queryset, selectors.RegisterFilters(expiry=value))

    def _in_register(self, queryset: QuerySet[Evidence], filters: selectors.RegisterFilters) -> QuerySet[Evidence]:
        """Narrowed as the register page narrows (one subquery), so both always agree."""
        organisation = self.request.parser_context["view"].organisation  # type: ignore[union-attr]
        return queryset.filter(pk__in=selectors.register_for(organisation, filters).values("pk"))


class EvidenceViewMixin(OrganisationAPIView):
    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context["organisation_slug"] = self.kwargs.get("organisation_slug", "")
        if not getattr(self, "swagger_fake_view", False):
            context["organisation"] = self.organisation
        return context

    def items(self) -> QuerySet[Evidence]:
        """The organisation's items with what their representation reads, in a fixed number of queries."""
        controls = Control.objects.select_related("framework").order_by("framework__position", "position")
        return selectors.register_for(self.organisation, selectors.RegisterFilters()).prefetch_related(
            Prefetch("controls", queryset=controls)
        )

    def item(self, evidence_id: int) -> Evidence:
        return self.get_tenant_object(self.items(), evidence_id)

    def represent(self, evidence: Evidence) -> dict[str, Any]:
        fresh = self.item(evidence.pk)
        return dict(EvidenceDetailSerializer(fresh, context=self.get_serializer_context()).data)


LIST_EXAMPLE = OpenApiExample(
    "A page of evidence",
    response_only=True,
    value={
        "next": "https://greenlight.example/api/v1/organisations/acme-bakery/evidence/?cursor=cD0yMDI2LTExLTIx",
        "previous": None,
        "results": [
            {
                "id": 412,
                "url": "https://greenlight.example/api/v1/organisations/acme-bakery/evidence/412/",
                "title": "Firewall rules export",
                "kind": "file",
                "evidence_type": "configuration",
                "status": "submitted",
                "source": "manual",
                "controls": [
                    {"id": 88, "ref": "1.1", "title": "Firewalls protect every device", "framework": "cyber-essentials"}
                ],
                "collected_on": "2026-11-21",
                "valid_until": "2027-02-19",
                "owner": {"id": 7, "name": "Priya Shah", "email": "priya@acme-bakery.co.uk"},
                "link": None,
                "file": {
                    "name": "firewall-rules.pdf",
                    "size": 48213,
                    "content_type": "application/pdf",
                    "sha256": "3f4c9b1e8a0d6f2c7b5e9a1d4c8f0b2e6a3d7c1f5b9e2a4d8c0f6b3e7a1d5c9f",
                    "revision": 1,
                    "uploaded_at": "2026-11-21T09:14:03Z",
                },
                "download_url": "https://greenlight.example/api/v1/organisations/acme-bakery/evidence/412/download/",
                "quality": 78,
                "created_at": "2026-11-21T09:14:03Z",
                "updated_at": "2026-11-21T09:14:03Z",
            }
        ],
    },
)
UPLOAD_EXAMPLE = OpenApiExample(
    "Upload a firewall export",
    request_only=True,
    media_type="multipart/form-data",
    value={
        "file": "(binary: firewall-rules.pdf)",
        "title": "Firewall rules export",
        "evidence_type": "configuration",
        "controls": [88, 91],
        "owner": 7,
        "collected_on": "2026-11-21",
    },
)
LINK_EXAMPLE = OpenApiExample(
    "Add a link",
    request_only=True,
    media_type="application/json",
    value={
        "kind": "link",
        "title": "Status page of the booking system",
        "url": "https://status.acme-bakery.co.uk/",
        "controls": [88],
    },
)
NOTE_EXAMPLE = OpenApiExample(
    "Write a note",
    request_only=True,
    media_type="application/json",
    value={
        "kind": "note",
        "title": "Quarterly access review",
        "note": "On 21 November 2026 the office manager checked every account with admin rights; two leavers "
        "were removed.",
        "controls": [91],
        "status": "draft",
    },
)


class EvidenceListCreate(mixins.ListModelMixin, EvidenceViewMixin):
    """The organisation's evidence register, and adding evidence."""

    scopes = {"GET": Scope.EVIDENCE_READ, "POST": Scope.EVIDENCE_WRITE}
    serializer_class = EvidenceSerializer
    filterset_class = EvidenceFilter
    filter_backends = (django_filters.rest_framework.DjangoFilterBackend, StableOrderingFilter)
    ordering_fields = ("created_at", "updated_at", "collected_on", "expiry", "title")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Evidence]:
        if getattr(self, "swagger_fake_view", False):
            return Evidence.objects.none()
        return (
            self.items()
            .defer(*UNLISTED_FIELDS)
            .annotate(expiry=Coalesce("valid_until", Value(NEVER), output_field=DateField()))
        )

    @extend_schema(
        operation_id="evidence_list",
        description="Evidence of the organisation, newest first. `ordering` takes `created_at`, `updated_at`, "
        "`collected_on`, `title` or `expiry` (the valid-until date; items without one last), with `-` for "
        "descending.",
        examples=[LIST_EXAMPLE],
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        return self.list(request)

    @extend_schema(
        operation_id="evidence_create",
        description="Add evidence. Upload a file as `multipart/form-data` (one file per request; the same "
        "checks as the upload page: size, detected type, pixel and zip bombs), or send a link or a written "
        "note (`kind`) as JSON. A blank title takes the file's name, a blank type is decided from the file, "
        "and a blank valid-until date the type's usual period. Send an `Idempotency-Key` header to retry "
        "safely. The same file or link already held answers 409 unless `allow_duplicate` is true.",
        request={
            "multipart/form-data": EvidenceCreateSerializer,
            "application/json": EvidenceCreateSerializer,
        },
        responses={
            201: EvidenceDetailSerializer,
            (409, "application/problem+json"): OpenApiResponse(
                {"$ref": "#/components/schemas/Problem"},
                description="The same file or link is already evidence; the detail names it.",
            ),
            (507, "application/problem+json"): OpenApiResponse(
                {"$ref": "#/components/schemas/Problem"},
                description="There is no room to store the file (the disk is full); nothing was stored. Retry later.",
            ),
        },
        examples=[UPLOAD_EXAMPLE, LINK_EXAMPLE, NOTE_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        serializer = EvidenceCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        evidence = self._create(serializer.validated_data)
        body = self.represent(evidence)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

    def _create(self, data: dict[str, Any]) -> Evidence:
        details = EvidenceDetails(
            title=data.get("title", ""),
            description=data.get("description", ""),
            evidence_type=data.get("evidence_type") or EvidenceType.OTHER,
            owner=data.get("owner"),
            collected_on=data.get("collected_on"),
            valid_until=data.get("valid_until"),
            control_ids=tuple(data.get("controls", ())),
            submit=data["status"] == EvidenceStatus.SUBMITTED,
        )
        organisation, actor, allow_duplicate = self.organisation, self.actor, data["allow_duplicate"]
        try:
            if data["kind"] == EvidenceForm.LINK:
                return services.evidence_add_link(
                    organisation=organisation,
                    actor=actor,
                    url=data["url"],
                    details=details,
                    allow_duplicate=allow_duplicate,
                )
            if data["kind"] == EvidenceForm.NOTE:
                return services.evidence_add_note(
                    organisation=organisation, actor=actor, note=data["note"], details=details
                )
            upload = data["file"]
            name = upload.name or "evidence"
            details.title = details.title or title_from_name(name)
            details.evidence_type = data.get("evidence_type") or type_for_upload(upload)
            return services.evidence_upload(
                organisation=organisation,
                actor=actor,
                file=upload,
                name=name,
                details=details,
                allow_duplicate=allow_duplicate,
            )
        except UploadRefused as refusal:
            raise ValidationError({"file": [refusal.message]}) from refusal
        except StorageFull as full:
            raise InsufficientStorage() from full
        except services.DuplicateEvidence as duplicate:
            existing = duplicate.existing
            url = reverse(
                "api_evidence_detail",
                kwargs={"organisation_slug": self.organisation.slug, "evidence_id": existing.pk},
            )
            raise DuplicateConflict(
                f"{' '.join(duplicate.messages)} It is evidence {existing.pk} "
                f"({self.request.build_absolute_uri(url)}). Send allow_duplicate=true to store it anyway."
            ) from duplicate


class EvidenceDetail(EvidenceViewMixin):
    """One evidence item: read it, change its details or the controls it is mapped to."""

    scopes = {"GET": Scope.EVIDENCE_READ, "PATCH": Scope.EVIDENCE_WRITE}
    serializer_class = EvidenceDetailSerializer
    queryset = Evidence.objects.none()

    @extend_schema(operation_id="evidence_retrieve")
    def get(self, request: Request, organisation_slug: str, evidence_id: int) -> Response:
        return Response(self.get_serializer(self.item(evidence_id)).data)

    @extend_schema(
        operation_id="evidence_update",
        description="Change an item's details (title, description, type, owner, dates, a note's text) or "
        "`controls`, the full list of control ids it should be mapped to: ids not in the list are unmapped.",
        request=EvidenceUpdateSerializer,
        responses={200: EvidenceDetailSerializer},
        examples=[
            OpenApiExample(
                "Map to two controls and extend the date",
                request_only=True,
                value={"controls": [88, 91], "valid_until": "2027-11-21"},
            )
        ],
    )
    def patch(self, request: Request, organisation_slug: str, evidence_id: int) -> Response:
        evidence = self.item(evidence_id)
        serializer = EvidenceUpdateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        controls = data.pop("controls", None)
        mapped = {control.pk for control in evidence.controls.all()}
        if "note" in data and evidence.form != EvidenceForm.NOTE:
            raise ValidationError({"note": ["Only a written note has text to change."]})
        if data:
            details = EvidenceDetails(
                title=data.get("title", evidence.title),
                description=data.get("description", evidence.description),
                evidence_type=data.get("evidence_type", evidence.evidence_type),
                owner=data.get("owner", evidence.owner),
                collected_on=data.get("collected_on", evidence.collected_on),
                valid_until=data.get("valid_until", evidence.valid_until),
                control_ids=tuple(controls if controls is not None else sorted(mapped)),
            )
            services.evidence_update(evidence=evidence, actor=self.actor, details=details, note=data.get("note"))
        elif controls is not None and set(controls) != mapped:
            wanted = set(controls)
            services.evidence_map_controls(
                evidence=evidence, actor=self.actor, add=sorted(wanted - mapped), remove=sorted(mapped - wanted)
            )
        return Response(self.represent(evidence))


class EvidenceDownload(EvidenceViewMixin):
    """The item's current file, as an attachment."""

    scopes = {"GET": Scope.EVIDENCE_READ}
    queryset = Evidence.objects.none()
    content_negotiation_class = FileResponseNegotiation

    @extend_schema(
        operation_id="evidence_download",
        description="The current file of a file item, streamed with its detected content type as an attachment "
        "(never to be shown as a page: `X-Content-Type-Options: nosniff`, a sandboxing CSP). Links and notes "
        "have no file: 404.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file; `Content-Type` is the type detected at upload."
            )
        },
    )
    def get(self, request: Request, organisation_slug: str, evidence_id: int) -> FileResponse:
        evidence = self.get_tenant_object(Evidence.objects.select_related("current_revision"), evidence_id)
        revision = evidence.current_revision
        if revision is None:
            raise NotFound(f"This evidence is a {evidence.get_form_display().lower()}: it has no file to download.")
        try:
            handle = default_storage.open(str(revision.file.name), "rb")
        except OSError:  # the row is there, its file is not
            raise NotFound("This evidence's file is missing from storage. Upload it again.") from None
        response = FileResponse(
            handle, as_attachment=True, filename=revision.original_name, content_type=revision.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = SANDBOX
        response["Cache-Control"] = "private, no-store"
        return response
