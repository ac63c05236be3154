"""The audit log in the API: every change to the organisation's data, newest first."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.models import AuditEvent
from accounts.scopes import Scope
from accounts.serializers_audit import AuditEventSerializer
from config.api.filters import UtcIsoDateTimeFilter
from config.api.views import OrganisationAPIView


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(
        method="filter_action",
        help_text="An action (`report.requested`), or an area for all its actions (`report`).",
    )
    object_type = django_filters.CharFilter(
        help_text="Only events about this kind of object, as `<app>.<model>`, e.g. `evidence.evidence`."
    )
    since = UtcIsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Only events at or after this ISO 8601 time, e.g. `2026-11-21T09:00:00Z`.",
    )
    until = UtcIsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Only events before this ISO 8601 time (not including it), e.g. `2026-11-22T00:00:00Z`.",
    )

    class Meta:
        model = AuditEvent
        fields = ("action", "object_type", "since", "until")

    def filter_action(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        area = value.strip().rstrip(".")
        if not area:
            return queryset
        return queryset.filter(Q(action=area) | Q(action__startswith=f"{area}."))


class AuditEventList(mixins.ListModelMixin, OrganisationAPIView):
    serializer_class = AuditEventSerializer
    scopes = {"GET": Scope.AUDIT_READ}
    filterset_class = AuditEventFilter
    ordering_fields = ("created_at",)

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return selectors.organisation_audit_events(self.organisation)

    @extend_schema(
        operation_id="audit_events_list",
        summary="List audit events",
        description="Every change to the organisation's data and who made it (a person, an API key or "
        "Greenlight itself), newest first. Events are never changed or removed.",
        examples=[
            OpenApiExample(
                "A report asked for with an API key",
                value={
                    "id": 9031,
                    "created_at": "2026-11-21T09:14:03Z",
                    "actor_label": "API key Board pack sync (glk_4f7a2c91)",
                    "action": "report.requested",
                    "object_type": "assessments.reportrun",
                    "object_id": "412",
                    "summary": "Asked for a readiness report",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request)
