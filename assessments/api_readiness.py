"""Readiness in the API: the scores now, their history, how a framework's score is made, and the gaps.

Every number comes from `selectors.readiness_for` and the scoring module, exactly as the pages show it.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from assessments import scoring, selectors, services
from assessments.api import AssessmentsAPIView, cursor_ordered_by, status_counts
from assessments.models import ReadinessSnapshot
from assessments.serializers import ExplanationSerializer, GapListSerializer, ReadinessSerializer, SnapshotSerializer
from assessments.views.readiness import _explanation
from compliance.profile_facts import PROFILE_FACTS

TOP_GAPS = 10
GAPS_DEFAULT_LIMIT, GAPS_MAX_LIMIT = 50, 200
NOT_ADOPTED = "Name one of your adopted frameworks by its slug (GET adoptions/ lists them)."


def _adopted(readiness: selectors.Readiness, slug: str) -> selectors.FrameworkReadiness | None:
    return next((f for f in readiness.frameworks if f.framework.slug == slug), None)


# --- Now ------------------------------------------------------------------------------------------
READINESS_EXAMPLE = {
    "computed_at": "2026-11-21T09:30:00Z",
    "overall": 55.6,
    "band": "amber",
    "would_fail": True,
    "frameworks": [
        {
            "framework": {
                "slug": "cyber-essentials",
                "name": "Cyber Essentials",
                "url": "https://greenlight.example/api/v1/frameworks/cyber-essentials/",
            },
            "target_date": "2027-03-31",
            "score": 61.1,
            "band": "amber",
            "would_fail": True,
            "applicable": 38,
            "answered": 31,
            "implemented": 22,
            "failing_controls": [
                {"id": 17, "framework": "cyber-essentials", "ref": "UA.4", "title": "Multi-factor authentication"}
            ],
        },
        {
            "framework": {
                "slug": "uk-gdpr",
                "name": "UK GDPR",
                "url": "https://greenlight.example/api/v1/frameworks/uk-gdpr/",
            },
            "target_date": None,
            "score": 50.0,
            "band": "amber",
            "would_fail": False,
            "applicable": 44,
            "answered": 30,
            "implemented": 18,
            "failing_controls": [],
        },
    ],
}


class ReadinessNow(AssessmentsAPIView):
    """Readiness computed now from the open round's answers: overall (the mean of the frameworks'
    scores) and per adopted framework, with the auto-fail controls that make a framework fail."""

    scopes = {"GET": Scope.READINESS_READ}
    serializer_class = ReadinessSerializer

    @extend_schema(
        operation_id="readiness_retrieve",
        examples=[OpenApiExample("Two frameworks", value=READINESS_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        readiness = selectors.readiness_for(self.organisation)
        failing = readiness.load_controls(pk for f in readiness.frameworks for pk in f.score.failing_controls)
        data = {
            "computed_at": timezone.now(),
            "overall": readiness.overall,
            "band": scoring.band_for(readiness.overall),
            "would_fail": any(f.score.would_fail for f in readiness.frameworks),
            "frameworks": [
                {
                    "framework": f.framework,
                    "target_date": f.adoption.target_date,
                    "score": f.score.percent,
                    "band": f.score.band,
                    "would_fail": f.score.would_fail,
                    "applicable": f.score.applicable,
                    "answered": f.score.answered,
                    "implemented": f.score.implemented,
                    "failing_controls": [failing[pk] for pk in f.score.failing_controls],
                }
                for f in readiness.frameworks
            ],
        }
        return Response(self.get_serializer(data).data)


# --- Over time ------------------------------------------------------------------------------------
class SnapshotFilter(django_filters.FilterSet):
    framework = django_filters.CharFilter(
        method="filter_framework", help_text="A framework's slug, or `overall` for the overall score only."
    )
    since = django_filters.DateFilter(
        field_name="taken_at", lookup_expr="date__gte", help_text="Only snapshots taken on or after this date."
    )

    class Meta:
        model = ReadinessSnapshot
        fields = ("framework", "since")

    def filter_framework(self, queryset: QuerySet[ReadinessSnapshot], name: str, value: str) -> Any:
        if value == "overall":
            return queryset.filter(framework__isnull=True)
        return queryset.filter(framework__slug=value)


class ReadinessHistory(ListModelMixin, AssessmentsAPIView):
    """Readiness snapshots, oldest first: one per adopted framework and one overall (`framework`
    null) each time readiness is recorded, shortly after answers or the profile change."""

    scopes = {"GET": Scope.READINESS_READ}
    serializer_class = SnapshotSerializer
    pagination_class = cursor_ordered_by("taken_at", "id")
    filter_backends = (DjangoFilterBackend,)
    filterset_class = SnapshotFilter

    def get_queryset(self) -> QuerySet[ReadinessSnapshot]:
        if getattr(self, "swagger_fake_view", False):
            return ReadinessSnapshot.objects.none()
        return selectors.snapshots_for(self.organisation).select_related("framework")

    @extend_schema(operation_id="readiness_history")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


# --- How a score is made --------------------------------------------------------------------------
def _formula() -> dict[str, Any]:
    """The formula's numbers, from the scoring module, and its rules in words (as the pages put them)."""
    partial, unevidenced = scoring.CREDIT[scoring.PARTIAL], scoring.UNEVIDENCED_CREDIT
    return {
        "expression": "readiness = 100 × Σ(weight × credit) ÷ Σ(weight), over the controls that count",
        "credits": {
            "implemented": scoring.CREDIT[scoring.IMPLEMENTED],
            "partial": partial,
            "not_implemented": scoring.CREDIT[scoring.NOT_IMPLEMENTED],
            "unanswered": scoring.CREDIT[None],
            "implemented_without_current_evidence": unevidenced,
        },
        "green_from": scoring.GREEN_FROM,
        "amber_from": scoring.AMBER_FROM,
        "rules": [
            "Controls count when they apply to the business and can be assessed; each has a weight from 1 to 5.",
            "Controls answered not applicable (with a reason), or ruled out by the business profile, are left "
            "out of both sums.",
            "A control without an answer of its own takes the best answer of a control that covers it through "
            "a mapping (equal, or the other control is a superset).",
            f"A control still without an answer that a published policy covers earns {partial}, as partially "
            "implemented.",
            f"Once the organisation keeps any evidence, a control claimed implemented without current evidence "
            f"earns {unevidenced} instead of 1.",
            f"Bands: green from {scoring.GREEN_FROM}, amber from {scoring.AMBER_FROM}, red below.",
            "A framework would fail while any applicable auto-fail control is not fully implemented, whatever "
            "its percentage.",
            "Overall readiness is the mean of the adopted frameworks' scores, each counting the same.",
        ],
    }


def _fact_words(facts: tuple[str, ...]) -> str:
    return " and ".join(PROFILE_FACTS.get(fact, fact.replace("_", " ")).lower() for fact in facts)


class ReadinessExplanation(AssessmentsAPIView):
    """How one adopted framework's score is made: the formula and its numbers, the totals, the score of
    each group, the controls by status, what is left out and why, and the gaps worth most points."""

    scopes = {"GET": Scope.READINESS_READ}
    serializer_class = ExplanationSerializer

    @extend_schema(
        operation_id="readiness_explanation",
        parameters=[
            OpenApiParameter("framework", OpenApiTypes.STR, required=True, description="An adopted framework's slug.")
        ],
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        slug = request.query_params.get("framework", "")
        if not slug:
            raise ValidationError({"framework": ["This parameter is required. " + NOT_ADOPTED]})
        readiness = selectors.readiness_for(self.organisation)
        framework = _adopted(readiness, slug)
        if framework is None:
            raise ValidationError({"framework": [NOT_ADOPTED]})
        explained = _explanation(readiness, framework)
        controls = {row.control.pk: row.control for row in explained["rows"]}  # type: ignore[attr-defined]
        score, framework_id = framework.score, framework.adoption.framework_id
        gaps = [gap for gap in selectors.ranked_gaps(readiness) if gap.framework_id == framework_id][:TOP_GAPS]
        contributions = score.contributions
        data = {
            "framework": framework.framework,
            "score": score.percent,
            "band": score.band,
            "would_fail": score.would_fail,
            "applicable": score.applicable,
            "answered": score.answered,
            "implemented": score.implemented,
            "formula": _formula(),
            "totals": {
                "weight": explained["total_weight"],
                "weighted_credit": explained["weighted_credit"],
                "possible": explained["total_possible"],
                "earned": explained["total_earned"],
                "lost": explained["total_lost"],
            },
            "counts": status_counts(readiness, framework_id),
            "came_through": {
                "mapping": sum(1 for c in contributions if c.via_control_id),
                "policy": sum(1 for c in contributions if c.via_policy),
                "unevidenced": sum(1 for c in contributions if c.unevidenced),
            },
            "groups": [
                {
                    "ref": group.ref,
                    "title": group.title,
                    "score": group.score.percent,
                    "band": group.score.band,
                    "weight": group.weight,
                    "possible": group.possible,
                    "earned": group.earned,
                    "lost": group.lost,
                    "applicable": group.score.applicable,
                    "answered": group.score.answered,
                    "implemented": group.score.implemented,
                }
                for group in explained["groups"]  # type: ignore[attr-defined]
            ],
            "top_gaps": [
                {
                    "control": controls[gap.control_id],
                    "status": gap.status,
                    "weight": gap.weight,
                    "auto_fail": gap.auto_fail,
                    "points": gap.lost_points,
                    "impact": gap.impact,
                }
                for gap in gaps
            ],
            "failing_controls": [item.control for item in explained["failing"]],  # type: ignore[attr-defined]
            "excluded": [
                {
                    "control": item.control,
                    "reason": "not_applicable",
                    "detail": item.answer.justification if item.answer else "",
                    "unmet_facts": [],
                }
                for item in explained["excluded_by_answer"]  # type: ignore[attr-defined]
            ]
            + [
                {
                    "control": item.control,
                    "reason": "profile",
                    "detail": f"Applies only if the business {_fact_words(item.unmet_facts)}; the profile says "
                    "it does not.",
                    "unmet_facts": list(item.unmet_facts),
                }
                for item in explained["excluded_by_profile"]  # type: ignore[attr-defined]
            ],
        }
        return Response(self.get_serializer(data).data)


# --- Gaps -----------------------------------------------------------------------------------------
def _whole_number(request: Request, name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        limits = f"from {low} to {high}" if high is not None else f"of {low} or more"
        raise ValidationError({name: [f"Send a whole number {limits}."]})
    return value


class GapList(AssessmentsAPIView):
    """Applicable controls not fully implemented, costliest first: auto-fail controls lead, then the
    points each costs, counted once more for every other adopted control it would also close (the
    gaps page's order). The ranking is computed over every gap at once, so this list is paged with
    `limit` (at most 200) and `offset` rather than a cursor; `count` says how many there are."""

    scopes = {"GET": Scope.READINESS_READ}
    serializer_class = GapListSerializer

    @extend_schema(
        operation_id="gaps_list",
        parameters=[
            OpenApiParameter("framework", OpenApiTypes.STR, description="Only this adopted framework's gaps (slug)."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Gaps to return, 1 to {GAPS_MAX_LIMIT}; {GAPS_DEFAULT_LIMIT}."
            ),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Gaps to skip from the top of the ranking."),
        ],
    )
    def get(self, request: Request, organisation_slug: str) -> Response:
        limit = _whole_number(request, "limit", GAPS_DEFAULT_LIMIT, low=1, high=GAPS_MAX_LIMIT)
        offset = _whole_number(request, "offset", 0, low=0)
        readiness = selectors.readiness_for(self.organisation)
        ranked = selectors.ranked_gaps(readiness)
        slug = request.query_params.get("framework", "")
        if slug:
            chosen = _adopted(readiness, slug)
            if chosen is None:
                raise ValidationError({"framework": [NOT_ADOPTED]})
            ranked = [gap for gap in ranked if gap.framework_id == chosen.adoption.framework_id]
        page = ranked[offset : offset + limit]
        controls = readiness.load_controls((gap.control_id for gap in page), guidance=True)
        open_tasks = selectors.open_tasks_by_control(self.organisation) if page else {}
        results = []
        for gap in selectors.with_controls(page, controls):
            control = gap.control
            results.append(
                {
                    "control": control,
                    "framework": control.framework,
                    "status": gap.status,
                    "weight": gap.weight,
                    "auto_fail": gap.auto_fail,
                    "points": gap.lost_points,
                    "impact": gap.impact,
                    "mapped_count": gap.mapped_count,
                    "priority": services.gap_priority(gap),
                    "why_it_matters": control.description,
                    "how_to_close": control.guidance,
                    "open_task_id": min(open_tasks[control.pk]) if control.pk in open_tasks else None,
                }
            )
        data = {"count": len(ranked), "limit": limit, "offset": offset, "results": results}
        return Response(self.get_serializer(data).data)
