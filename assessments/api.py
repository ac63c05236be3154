"""The SMB journey in the API: business profile, adopted frameworks, assessment rounds and answers.

Readiness and gaps are in `api_readiness`, the plan's tasks in `api_tasks`. Views are thin: they read
through the selectors, write through the services (which check the actor again) and pass the actor.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import django_filters
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Membership
from accounts.scopes import Scope
from assessments import selectors, services
from assessments.facts import control_applies, profile_facts
from assessments.models import Answer, AnswerStatus, AssessmentRound, BusinessProfile, FrameworkAdoption
from assessments.serializers import (
    AdoptionCreateSerializer,
    AdoptionSerializer,
    AnswerSaveSerializer,
    AssessmentAnswerSavedSerializer,
    AssessmentAnswerSerializer,
    CurrentRoundSerializer,
    ProfileSerializer,
    RoundSerializer,
)
from assessments.views.assessment import NOT_FOR_YOU, progress_for
from compliance.models import Control
from config.api.filters import UtcIsoDateTimeFilter
from config.api.idempotency import idempotent
from config.api.pagination import ApiCursorPagination
from config.api.schema import PROBLEM_SCHEMA
from config.api.views import OrganisationAPIView


# --- Shared by the app's API views ----------------------------------------------------------------
class AssessmentsAPIView(OrganisationAPIView):
    """Puts the organisation, and the ids of its members (people are shown only while members), in
    every serializer's context."""

    shows_people = False

    @cached_property
    def member_ids(self) -> frozenset[int]:
        return frozenset(Membership.objects.filter(organisation=self.organisation).values_list("user_id", flat=True))

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if getattr(self, "swagger_fake_view", False):
            return context
        context["organisation"] = self.organisation
        if self.shows_people:
            context["member_ids"] = self.member_ids
        return context

    def location(self, name: str, **kwargs: Any) -> str:
        return self.request.build_absolute_uri(
            reverse(name, kwargs={"organisation_slug": self.organisation.slug, **kwargs})
        )


def cursor_ordered_by(*ordering: str) -> type[ApiCursorPagination]:
    """Cursor pages in a fixed order, for lists without `?ordering=` (the last field breaks ties)."""
    return type("OrderedCursorPagination", (ApiCursorPagination,), {"ordering": ordering})


class ApiOrderingFilter(OrderingFilter):
    """`?ordering=<field>` (a minus for descending) over the view's `ordering_fields`. A public name may
    stand for a sort key (`ordering_keys`, such as a due date with blanks last), and the id breaks
    ties, so cursor pages neither skip nor repeat rows."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        first = ordering[0]
        descending = first.startswith("-")
        key = getattr(view, "ordering_keys", {}).get(first.lstrip("-"), first.lstrip("-"))
        if key == "id":
            return (first,)
        return (f"-{key}", "-id") if descending else (key, "id")


# --- Business profile -----------------------------------------------------------------------------
class ProfileDetail(AssessmentsAPIView):
    """The business profile: the facts that decide which frameworks are recommended and which controls
    apply. Before anything is saved, it reads as a blank profile named after the organisation."""

    scopes = {"GET": Scope.PROFILE_READ, "PATCH": Scope.PROFILE_WRITE}
    serializer_class = ProfileSerializer

    def current(self) -> BusinessProfile:
        return selectors.profile_for(self.organisation) or BusinessProfile(
            organisation=self.organisation, company_name=self.organisation.name
        )

    @extend_schema(operation_id="profile_retrieve")
    def get(self, request: Request, organisation_slug: str) -> Response:
        return Response(self.get_serializer(self.current()).data)

    @extend_schema(
        operation_id="profile_update",
        examples=[
            OpenApiExample(
                "Takes card payments online",
                value={"card_handling": "hosted", "website": True, "customer_regions": ["uk", "eu"]},
                request_only=True,
            )
        ],
    )
    def patch(self, request: Request, organisation_slug: str) -> Response:
        """Change some of the profile's answers; fields left out keep their values. Changing them may
        change which controls apply, and so the readiness scores."""
        profile = self.current()
        serializer = self.get_serializer(profile, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = services.profile_update(
            organisation=self.organisation,
            values=dict(serializer.validated_data),
            step=profile.last_step,  # the wizard resumes where it was
            actor=self.actor,
        )
        return Response(self.get_serializer(profile).data)


# --- Adopted frameworks ---------------------------------------------------------------------------
class AdoptionList(ListModelMixin, AssessmentsAPIView):
    """The frameworks the organisation works towards, with their target dates, oldest adoption first."""

    scopes = {"GET": Scope.ASSESSMENTS_READ, "POST": Scope.ASSESSMENTS_WRITE}
    serializer_class = AdoptionSerializer
    pagination_class = cursor_ordered_by("adopted_at", "id")
    filter_backends = ()

    def get_queryset(self) -> QuerySet[FrameworkAdoption]:
        if getattr(self, "swagger_fake_view", False):
            return FrameworkAdoption.objects.none()
        return selectors.adoptions_for(self.organisation)

    @extend_schema(operation_id="adoptions_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    @extend_schema(
        operation_id="adoptions_create",
        request=AdoptionCreateSerializer,
        responses={
            201: AdoptionSerializer,
            200: OpenApiResponse(AdoptionSerializer, description="Already adopted: its target date was set."),
        },
        examples=[
            OpenApiExample(
                "Adopt Cyber Essentials",
                value={"framework": "cyber-essentials", "target_date": "2026-11-21"},
                request_only=True,
            )
        ],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        """Adopt a framework: its controls join the assessment. Adopting one already adopted sets its
        target date (null removes it) and answers 200."""
        serializer = AdoptionCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        framework = serializer.validated_data["framework"]
        existed = FrameworkAdoption.objects.filter(organisation=self.organisation, framework=framework).exists()
        adoption = services.framework_adopt(
            organisation=self.organisation,
            framework=framework,
            target_date=serializer.validated_data["target_date"],
            actor=self.actor,
        )
        location = self.location("api_adoption_detail", frameworkadoption_id=adoption.pk)
        return Response(
            self.get_serializer(adoption).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class AdoptionDetail(AssessmentsAPIView):
    scopes = {"GET": Scope.ASSESSMENTS_READ, "DELETE": Scope.ASSESSMENTS_WRITE}
    serializer_class = AdoptionSerializer

    def get_object(self) -> FrameworkAdoption:
        return self.get_tenant_object(
            FrameworkAdoption.objects.select_related("framework", "organisation"), self.kwargs["frameworkadoption_id"]
        )

    @extend_schema(operation_id="adoption_retrieve")
    def get(self, request: Request, organisation_slug: str, frameworkadoption_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(operation_id="adoption_drop", responses={204: None})
    def delete(self, request: Request, organisation_slug: str, frameworkadoption_id: int) -> Response:
        """Stop working towards the framework. Its answers are kept, and count again if it is re-adopted."""
        services.framework_drop(adoption=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Assessment rounds ----------------------------------------------------------------------------
class RoundList(ListModelMixin, AssessmentsAPIView):
    """Assessment rounds, newest first. One is open at a time; closed rounds keep their answers."""

    scopes = {"GET": Scope.ASSESSMENTS_READ}
    serializer_class = RoundSerializer
    pagination_class = cursor_ordered_by("-started_at", "-id")
    filter_backends = ()

    def get_queryset(self) -> QuerySet[AssessmentRound]:
        if getattr(self, "swagger_fake_view", False):
            return AssessmentRound.objects.none()
        return selectors.rounds_for(self.organisation).annotate(answer_count=Count("answers"))

    @extend_schema(operation_id="assessments_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


def status_counts(readiness: selectors.Readiness, framework_id: int) -> dict[str, int]:
    """A framework's controls by status as scored (see StatusCountsSerializer)."""
    counts = dict.fromkeys((*AnswerStatus.values, "unanswered", "excluded_by_profile"), 0)
    for pk in readiness.framework_control_ids(framework_id):
        if pk in readiness.excluded_by_profile:
            counts["excluded_by_profile"] += 1
        else:
            counts[readiness.states[pk].status or "unanswered"] += 1
    return counts


class CurrentRound(AssessmentsAPIView):
    """The open round, with each adopted framework's progress as the assessment page shows it."""

    scopes = {"GET": Scope.ASSESSMENTS_READ}
    serializer_class = CurrentRoundSerializer

    @extend_schema(operation_id="assessment_current")
    def get(self, request: Request, organisation_slug: str) -> Response:
        current = (
            selectors.rounds_for(self.organisation)
            .filter(closed_at__isnull=True)
            .annotate(answer_count=Count("answers"))
            .first()
        )
        if current is None:
            raise NotFound("No assessment round is open yet: adopt a framework to start one.")
        readiness = selectors.readiness_for(self.organisation)
        frameworks = []
        for framework in readiness.frameworks:
            progress = progress_for(readiness, framework.adoption.framework_id)
            frameworks.append(
                {
                    "framework": framework.framework,
                    "answered": progress.answered,
                    "total": progress.total,
                    "percent": progress.percent,
                    "complete": progress.complete,
                    "counts": status_counts(readiness, framework.adoption.framework_id),
                }
            )
        current.frameworks = frameworks  # type: ignore[attr-defined]
        return Response(self.get_serializer(current).data)


# --- Answers --------------------------------------------------------------------------------------
class AnswerFilter(django_filters.FilterSet):
    framework = django_filters.CharFilter(field_name="control__framework__slug", help_text="A framework's slug.")
    control = django_filters.CharFilter(field_name="control__ref", help_text="A control's ref.")
    status = django_filters.ChoiceFilter(choices=AnswerStatus.choices)
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Only answers changed at or after this moment."
    )

    class Meta:
        model = Answer
        fields = ("framework", "control", "status", "updated_since")


class StaleVersion(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This answer changed since the version you sent."


class AnswerList(ListModelMixin, AssessmentsAPIView):
    """Answers of the open round: each control's own answer (controls scored through a mapping or a
    policy have none; readiness/explanation counts those), in id order. To pick up changes, filter
    with `updated_since` (and `ordering=updated_at`)."""

    scopes = {"GET": Scope.ASSESSMENTS_READ, "POST": Scope.ASSESSMENTS_WRITE}
    serializer_class = AssessmentAnswerSerializer
    shows_people = True
    filter_backends = (DjangoFilterBackend, ApiOrderingFilter)
    filterset_class = AnswerFilter
    ordering_fields = ("id", "updated_at")
    ordering = ("id",)

    def get_queryset(self) -> QuerySet[Answer]:
        if getattr(self, "swagger_fake_view", False):
            return Answer.objects.none()
        return Answer.objects.filter(organisation=self.organisation, round__closed_at__isnull=True).select_related(
            "control__framework", "via_control__framework", "owner", "updated_by"
        )

    @extend_schema(operation_id="answers_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    @extend_schema(
        operation_id="answers_save",
        request=AnswerSaveSerializer,
        responses={
            201: AssessmentAnswerSavedSerializer,
            200: OpenApiResponse(
                AssessmentAnswerSavedSerializer, description="An existing answer, changed or already so."
            ),
            (409, "application/problem+json"): OpenApiResponse(
                PROBLEM_SCHEMA, description="`version` is not the answer's current one: nothing was saved."
            ),
        },
        examples=[
            OpenApiExample(
                "Multi-factor authentication in place",
                value={
                    "framework": "cyber-essentials",
                    "ref": "UA.4",
                    "status": "implemented",
                    "notes": "Microsoft 365 Authenticator enforced for every account since March.",
                    "version": 2,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Not applicable, with the reason",
                value={
                    "control": 412,
                    "status": "not_applicable",
                    "justification": "We have no premises: everyone works from home.",
                },
                request_only=True,
            ),
        ],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        """Answer a control of an adopted framework in the open round (201 for a first answer, 200 for a
        change). Fields left out keep their saved values. Send the `version` you last read to make the
        save conditional: if someone changed the answer since, nothing is saved and the answer is 409
        (fetch it again and decide). Without `version` the last write wins. Sending what is already
        saved changes nothing (`changed: false`)."""
        serializer = AnswerSaveSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        control: Control = data["control"]
        if not control_applies(control.applies_if, profile_facts(selectors.profile_for(self.organisation))):
            raise ValidationError({"control": [NOT_FOR_YOU]})
        saved = (
            Answer.objects.filter(organisation=self.organisation, round__closed_at__isnull=True, control=control)
            .select_related("owner")
            .first()
        )
        try:
            result = services.answer_save(
                organisation=self.organisation,
                control=control,
                status=data["status"],
                actor=self.actor,
                notes=data.get("notes", saved.notes if saved else ""),
                justification=data.get("justification", saved.justification if saved else ""),
                owner=data.get("owner", saved.owner if saved else None),
                expected_version=data.get("version"),
                apply_to_mapped=data["apply_to_mapped"],
                refuse_stale=True,
            )
        except services.StaleAnswer as stale:
            raise StaleVersion(_stale_detail(data.get("version"), stale.answer)) from None
        answer = result.answer
        created = result.changed and saved is None
        context = {**self.get_serializer_context(), "changed": result.changed, "applied_to": result.applied_to}
        return Response(
            AssessmentAnswerSavedSerializer(answer, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": self.location("api_answer_detail", answer_id=answer.pk)},
        )


def _stale_detail(sent: int | None, answer: Answer | None) -> str:
    if answer is None:
        return f"You sent version {sent}, but this control has no answer in the open round: send version 0."
    saved_at = timezone.localtime(answer.updated_at)
    return (
        f"You sent version {sent}, but the answer is now version {answer.version} "
        f"({answer.get_status_display().lower()}, saved {saved_at:%-d %B %Y at %H:%M}). Nothing was saved: "
        f"read it again, then send version {answer.version} to replace it."
    )


class AnswerDetail(AssessmentsAPIView):
    """One answer, of the open round or an earlier one."""

    scopes = {"GET": Scope.ASSESSMENTS_READ}
    serializer_class = AssessmentAnswerSerializer
    shows_people = True

    @extend_schema(operation_id="answer_retrieve")
    def get(self, request: Request, organisation_slug: str, answer_id: int) -> Response:
        answer = self.get_tenant_object(
            Answer.objects.select_related("control__framework", "via_control__framework", "owner", "updated_by"),
            answer_id,
        )
        return Response(self.get_serializer(answer).data)
