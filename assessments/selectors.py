"""Reads for the SMB journey, always filtered by organisation, in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Organisation
from assessments import scoring
from assessments.facts import control_applies, profile_facts
from assessments.models import (
    Answer,
    AssessmentRound,
    BusinessProfile,
    FrameworkAdoption,
    PlanTask,
    ReadinessSnapshot,
    TaskStatus,
)
from compliance.models import Control, ControlMapping, Relationship


def profile_for(organisation: Organisation) -> BusinessProfile | None:
    return BusinessProfile.objects.filter(organisation=organisation).first()


def adoptions_for(organisation: Organisation) -> QuerySet[FrameworkAdoption]:
    return (
        FrameworkAdoption.objects.filter(organisation=organisation)
        .select_related("framework")
        .order_by("framework__position")
    )


def open_round(organisation: Organisation) -> AssessmentRound | None:
    return AssessmentRound.objects.filter(organisation=organisation, closed_at__isnull=True).first()


def rounds_for(organisation: Organisation) -> QuerySet[AssessmentRound]:
    return AssessmentRound.objects.filter(organisation=organisation).order_by("-started_at")


@dataclass
class FrameworkReadiness:
    adoption: FrameworkAdoption
    score: scoring.Score
    groups: dict[int, scoring.Score]

    @property
    def framework(self):  # type: ignore[no-untyped-def]
        return self.adoption.framework


@dataclass
class Readiness:
    """Everything the dashboard, assessment, explanation, gaps and plan pages need, computed once."""

    frameworks: list[FrameworkReadiness]
    overall: Decimal
    controls: dict[int, Control]
    states: dict[int, scoring.ControlState]
    answers: dict[int, Answer]
    # For each control, the other adopted controls mapped to it (any relationship), for impact.
    mapped: dict[int, set[int]] = field(default_factory=dict)
    # Controls the profile rules out, with the facts that do it.
    excluded_by_profile: dict[int, list[str]] = field(default_factory=dict)

    def for_framework(self, framework_id: int) -> FrameworkReadiness | None:
        return next((f for f in self.frameworks if f.adoption.framework_id == framework_id), None)


READINESS_CONTROL_FIELDS = (
    "id", "framework_id", "group_id", "ref", "title", "description", "weight", "applies_if", "auto_fail",
    "assessable", "position", "retired_at",
    "group__id", "group__ref", "group__title", "group__kind", "group__parent_id", "group__position",
)
READINESS_ANSWER_FIELDS = (
    "id", "organisation_id", "round_id", "control_id", "status", "notes", "justification", "owner_id",
    "via_control_id", "updated_by_id", "updated_at", "version",
)


def control_guidance(control_ids: list[int]) -> dict[int, str]:
    """The guidance text of some controls, in one query (readiness_for leaves it out)."""
    return dict(Control.objects.filter(pk__in=control_ids).values_list("pk", "guidance"))


def covering_map(mappings: list[tuple[int, int, str]]) -> dict[int, set[int]]:
    """covered_by[a] = controls whose implementation also implements a (see scoring.effective_states)."""
    covered_by: dict[int, set[int]] = defaultdict(set)
    for source, target, relationship in mappings:
        if relationship in (Relationship.EQUAL, Relationship.SUBSET):
            covered_by[source].add(target)
        if relationship in (Relationship.EQUAL, Relationship.SUPERSET):
            covered_by[target].add(source)
    return covered_by


def readiness_for(organisation: Organisation) -> Readiness:
    """Readiness of every adopted framework from the open round's answers: six queries in all."""
    adoptions = list(adoptions_for(organisation))
    facts = profile_facts(profile_for(organisation))
    current = open_round(organisation)
    framework_ids = [adoption.framework_id for adoption in adoptions]
    frameworks = {adoption.framework_id: adoption.framework for adoption in adoptions}
    # Only what the journey's pages show: the long guidance text is loaded where it is displayed
    # (`control_guidance`), and every control shares its framework object from the adoptions.
    controls: dict[int, Control] = {}
    for control in (
        Control.objects.live()
        .filter(framework_id__in=framework_ids, assessable=True)
        .select_related("group")
        .only(*READINESS_CONTROL_FIELDS)
        .order_by("framework__position", "position")
    ):
        control.framework = frameworks[control.framework_id]
        controls[control.pk] = control
    answers: dict[int, Answer] = {}
    if current is not None and controls:
        answers = {
            answer.control_id: answer
            for answer in Answer.objects.filter(organisation=organisation, round=current).only(*READINESS_ANSWER_FIELDS)
        }
    edges = (
        list(
            ControlMapping.objects.filter(
                source__framework_id__in=framework_ids,
                source__retired_at__isnull=True,
                target__framework_id__in=framework_ids,
                target__retired_at__isnull=True,
            ).values_list("source_id", "target_id", "relationship")
        )
        if controls
        else []
    )
    edges = [edge for edge in edges if edge[0] in controls and edge[1] in controls]
    mapped: dict[int, set[int]] = defaultdict(set)
    for source, target, _relationship in edges:
        mapped[source].add(target)
        mapped[target].add(source)

    excluded: dict[int, list[str]] = {}
    raw_states = []
    for control in controls.values():
        applies = control_applies(control.applies_if, facts)
        if not applies:
            excluded[control.pk] = [fact for fact in control.applies_if if not facts.get(fact, False)]
        answer = answers.get(control.pk)
        raw_states.append(
            scoring.ControlState(
                control_id=control.pk,
                framework_id=control.framework_id,
                group_id=control.group_id,
                weight=control.weight,
                auto_fail=control.auto_fail,
                applicable=applies,
                status=answer.status if answer else None,
            )
        )
    states = {state.control_id: state for state in scoring.effective_states(raw_states, covering_map(edges))}
    by_framework: dict[int, list[scoring.ControlState]] = defaultdict(list)
    for state in states.values():
        by_framework[state.framework_id].append(state)
    frameworks = [
        FrameworkReadiness(
            adoption=adoption,
            score=scoring.score(by_framework.get(adoption.framework_id, [])),
            groups=scoring.score_by(by_framework.get(adoption.framework_id, []), "group_id"),
        )
        for adoption in adoptions
    ]
    return Readiness(
        frameworks=frameworks,
        overall=scoring.overall(f.score for f in frameworks),
        controls=controls,
        states=states,
        answers=answers,
        mapped=dict(mapped),
        excluded_by_profile=excluded,
    )


@dataclass(frozen=True)
class Gap:
    control: Control
    status: str | None
    lost_points: Decimal
    impact: Decimal
    mapped_count: int

    @property
    def auto_fail(self) -> bool:
        return self.control.auto_fail


def gaps_for(readiness: Readiness) -> list[Gap]:
    """Applicable controls not fully implemented, costliest first.

    Impact = points lost in its framework × (1 + the number of adopted controls mapped to it), so a
    gap that also closes gaps elsewhere ranks higher; auto-fail gaps come before everything.
    """
    gaps: list[Gap] = []
    for framework in readiness.frameworks:
        for contribution in framework.score.contributions:
            if contribution.status == scoring.IMPLEMENTED:
                continue
            control = readiness.controls[contribution.control_id]
            mapped_count = len(readiness.mapped.get(control.pk, ()))
            gaps.append(
                Gap(
                    control=control,
                    status=contribution.status,
                    lost_points=contribution.lost,
                    impact=contribution.lost * (1 + mapped_count),
                    mapped_count=mapped_count,
                )
            )
    return sorted(
        gaps, key=lambda gap: (not gap.auto_fail, -gap.impact, gap.control.framework.position, gap.control.position)
    )


def snapshots_for(organisation: Organisation, *, since: date | None = None) -> QuerySet[ReadinessSnapshot]:
    snapshots = ReadinessSnapshot.objects.filter(organisation=organisation).order_by("taken_at")
    if since is not None:
        snapshots = snapshots.filter(taken_at__date__gte=since)
    return snapshots


def tasks_for(organisation: Organisation, *, owner_id: int | None = None, status: str = "") -> QuerySet[PlanTask]:
    tasks = PlanTask.objects.filter(organisation=organisation).select_related("owner").prefetch_related("controls")
    if owner_id is not None:
        tasks = tasks.filter(owner_id=owner_id)
    if status:
        tasks = tasks.filter(status=status)
    # Work in hand first, then what is waiting, then what is finished.
    status_order = Case(
        When(status=TaskStatus.DOING, then=Value(0)),
        When(status=TaskStatus.TODO, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return tasks.order_by(status_order, "priority", "due_date", "position")


def tasks_due(organisation: Organisation, *, within_days: int = 14) -> QuerySet[PlanTask]:
    horizon = timezone.localdate() + timedelta(days=within_days)
    return (
        PlanTask.objects.filter(organisation=organisation, due_date__lte=horizon)
        .exclude(status=TaskStatus.DONE)
        .select_related("owner")
        .order_by("due_date", "priority")
    )


def open_tasks_by_control(organisation: Organisation) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for task_id, control_id in (
        PlanTask.controls.through.objects.filter(plantask__organisation=organisation)
        .exclude(plantask__status=TaskStatus.DONE)
        .values_list("plantask_id", "control_id")
    ):
        found[control_id].append(task_id)
    return dict(found)
