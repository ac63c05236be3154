"""The implementation plan's tasks in the API: list, add, read and change them."""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django.db.models import DateField, Prefetch, QuerySet, Value
from django.db.models.functions import Coalesce
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from assessments import selectors, services
from assessments.api import ApiOrderingFilter, AssessmentsAPIView
from assessments.models import PlanTask, TaskStatus
from assessments.serializers import MAX_ID, TaskCreateSerializer, TaskSerializer, TaskUpdateSerializer
from compliance.models import Control
from config.api.idempotency import idempotent

# Tasks without a due date sort after every dated one (and first when descending).
NO_DUE_DATE = date(9999, 12, 31)

TASK_EXAMPLE = {
    "title": "Turn on multi-factor authentication for every Microsoft 365 account",
    "description": "Enforce the Authenticator app through Conditional Access; start with the admin accounts.",
    "owner": 42,
    "due_date": "2026-12-04",
    "priority": 1,
    "effort": "small",
    "controls": [17, 212],
}


def _linked_controls() -> Prefetch[Any]:
    return Prefetch(
        "controls",
        queryset=Control.objects.select_related("framework").only("id", "ref", "title", "framework__slug"),
    )


def tasks_with_controls(tasks: QuerySet[PlanTask]) -> QuerySet[PlanTask]:
    return tasks.prefetch_related(_linked_controls())


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    owner = django_filters.NumberFilter(
        field_name="owner_id", min_value=1, max_value=MAX_ID, decimal_places=0, help_text="The owner's user id."
    )
    due_before = django_filters.DateFilter(
        field_name="due_date", lookup_expr="lt", help_text="Only tasks due before this date (not on it)."
    )

    class Meta:
        model = PlanTask
        fields = ("status", "owner", "due_before")


class TaskList(ListModelMixin, AssessmentsAPIView):
    """The plan's tasks, newest first unless `ordering` says otherwise (`due_date` puts tasks without
    a due date last, `priority` runs from 1, critical, to 4, low)."""

    scopes = {"GET": Scope.TASKS_READ, "POST": Scope.TASKS_WRITE}
    serializer_class = TaskSerializer
    shows_people = True
    filter_backends = (DjangoFilterBackend, ApiOrderingFilter)
    filterset_class = TaskFilter
    ordering_fields = ("due_date", "priority", "created_at")
    ordering_keys = {"due_date": "due_order"}
    ordering = ("-created_at",)

    def get_queryset(self) -> QuerySet[PlanTask]:
        if getattr(self, "swagger_fake_view", False):
            return PlanTask.objects.none()
        return tasks_with_controls(selectors.tasks_for(self.organisation)).annotate(
            due_order=Coalesce("due_date", Value(NO_DUE_DATE), output_field=DateField())
        )

    @extend_schema(operation_id="tasks_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    @extend_schema(
        operation_id="tasks_create",
        request=TaskCreateSerializer,
        responses={201: TaskSerializer},
        examples=[OpenApiExample("A task that closes two controls", value=TASK_EXAMPLE, request_only=True)],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        """Add a task to the plan by hand. Its owner must be a member of the organisation, and its
        controls part of adopted frameworks."""
        serializer = TaskCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task = services.task_create(organisation=self.organisation, actor=self.actor, **serializer.validated_data)
        task = tasks_with_controls(PlanTask.objects.select_related("owner")).get(pk=task.pk)
        return Response(
            self.get_serializer(task).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": self.location("api_task_detail", plantask_id=task.pk)},
        )


class TaskDetail(AssessmentsAPIView):
    scopes = {"GET": Scope.TASKS_READ, "PATCH": Scope.TASKS_WRITE}
    serializer_class = TaskSerializer
    shows_people = True

    def get_object(self) -> PlanTask:
        return self.get_tenant_object(
            tasks_with_controls(PlanTask.objects.select_related("owner", "organisation")), self.kwargs["plantask_id"]
        )

    @extend_schema(operation_id="task_retrieve")
    def get(self, request: Request, organisation_slug: str, plantask_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        operation_id="task_update",
        request=TaskUpdateSerializer,
        examples=[OpenApiExample("Done", value={"status": "done"}, request_only=True)],
    )
    def patch(self, request: Request, organisation_slug: str, plantask_id: int) -> Response:
        """Change some of a task's fields: status, owner, due date, priority, effort, title, description.
        Moving it to done records when it was completed."""
        task = self.get_object()
        serializer = TaskUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task = services.task_update(task=task, values=dict(serializer.validated_data), actor=self.actor)
        return Response(self.get_serializer(task).data)
