"""Reads for the SMB journey, always filtered by organisation, in a fixed number of queries."""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property, reduce
from typing import Any, NamedTuple

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast
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
from compliance.models import Control, ControlGroup, ControlMapping, Framework, Relationship
from evidence.models import Evidence
from evidence.selectors import controls_with_current_evidence


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
    # The framework's controls as scored, in library order.
    states: list[scoring.ControlState] = field(default_factory=list)

    @property
    def framework(self) -> Framework:
        return self.adoption.framework

    # Worked out when first asked for: a framework's assessment page shows one framework's score, and
    # only the explanation page shows the groups'.
    @cached_property
    def score(self) -> scoring.Score:
        return scoring.score(self.states)

    @cached_property
    def groups(self) -> dict[int, scoring.Score]:
        return scoring.score_by(self.states, "group_id")


class AnswerRef(NamedTuple):
    """What scoring needs of an answer of the open round; `Readiness.load_answers` reads the rest."""

    status: str
    via_control_id: int | None


class AnswerDetail(NamedTuple):
    """An answer of the open round as the assessment pages show it, read as plain values."""

    control_id: int
    status: str
    notes: str
    justification: str
    owner_id: int | None
    via_control_id: int | None
    updated_by_id: int | None
    updated_at: datetime
    version: int


# Only what the journey's pages show of a control: not its long guidance, search text or evidence list.
CONTROL_FIELDS = ("id", "framework_id", "group_id", "ref", "title", "description", "weight", "auto_fail", "position")
GROUP_FIELDS = ("id", "framework_id", "parent_id", "ref", "title", "kind", "position")


@dataclass
class Readiness:
    """Everything the dashboard, assessment, explanation, gaps and plan pages need, computed once.

    Scores come from light rows (ids, weights, statuses), never from model instances: building a
    Control and an Answer for each of 500 controls was most of a page's time. A page loads the models
    of the controls it shows with `load_controls`, and their answers with `load_answers`.
    """

    organisation_id: int
    profile: BusinessProfile | None
    frameworks: list[FrameworkReadiness]
    # Every live assessable control of the adopted frameworks, in library order (framework, position).
    states: dict[int, scoring.ControlState]
    # The open round's own answers by control.
    answers: dict[int, AnswerRef]
    # For each control, the other adopted controls mapped to it (any relationship), for impact.
    mapped: dict[int, set[int]] = field(default_factory=dict)
    # covered_by[a]: the adopted controls whose implementation also implements a (see scoring).
    covered_by: dict[int, set[int]] = field(default_factory=dict)
    # Controls the profile rules out, with the facts that do it.
    excluded_by_profile: dict[int, list[str]] = field(default_factory=dict)

    @cached_property
    def overall(self) -> Decimal:
        return scoring.overall(f.score for f in self.frameworks)

    def for_framework(self, framework_id: int) -> FrameworkReadiness | None:
        return next((f for f in self.frameworks if f.adoption.framework_id == framework_id), None)

    def framework_control_ids(self, framework_id: int) -> list[int]:
        framework = self.for_framework(framework_id)
        return [state.control_id for state in framework.states] if framework else []

    def via_id(self, control_id: int) -> int | None:
        """The control an answer came through: applied in combined mode, or covered by a mapping."""
        answer = self.answers.get(control_id)
        if answer is not None:
            return answer.via_control_id
        state = self.states.get(control_id)
        return state.via_control_id if state else None

    def load_controls(
        self,
        ids: Iterable[int] = (),
        *,
        framework_id: int | None = None,
        groups: bool = False,
        guidance: bool = False,
    ) -> dict[int, Control]:
        """The Control models of some controls, and with `framework_id` of every control of that
        framework that readiness counts, in one query (two with their groups), in library order. They
        share one Framework object per framework and one ControlGroup per group; the long guidance
        text is read only when asked for."""
        wanted = set(ids)
        conditions = [Q(pk__in=wanted)] if wanted else []
        if framework_id is not None:
            # By framework rather than by 100+ ids: the same controls, a much shorter query to send.
            conditions.append(Q(framework_id=framework_id, assessable=True, retired_at__isnull=True))
        if not conditions:
            return {}
        frameworks = {f.adoption.framework_id: f.adoption.framework for f in self.frameworks}
        fields = (*CONTROL_FIELDS, "guidance") if guidance else CONTROL_FIELDS
        # Unordered (sorted below): the default ordering would join the frameworks.
        found = list(Control.objects.filter(reduce(operator.or_, conditions)).order_by().only(*fields))
        # A control answers came through may belong to a framework dropped since: rare, one more query.
        others = {c.framework_id for c in found} - frameworks.keys()
        if others:
            frameworks.update(Framework.objects.in_bulk(others))
        shared: dict[int, ControlGroup] = {}
        if groups:
            shared = ControlGroup.objects.order_by().only(*GROUP_FIELDS).in_bulk({c.group_id for c in found})
        order = {pk: index for index, pk in enumerate(self.states)}
        found.sort(key=lambda c: (order.get(c.pk, len(order)), c.framework_id, c.position))
        for control in found:
            control.framework = frameworks[control.framework_id]
            if groups:
                control.group = shared[control.group_id]
        return {control.pk: control for control in found}

    def load_answers(self, ids: Iterable[int]) -> dict[int, AnswerDetail]:
        """The open round's answers to some controls, notes and all, in one query."""
        wanted = [pk for pk in ids if pk in self.answers]
        if not wanted:
            return {}
        # By control ids, not by a join on the controls' framework: that plan is fast only once the
        # database has statistics about the tables, and a freshly loaded one has none.
        rows = Answer.objects.filter(
            organisation_id=self.organisation_id, round__closed_at__isnull=True, control_id__in=wanted
        ).values_list(*AnswerDetail._fields)
        return {row[0]: AnswerDetail(*row) for row in rows}


def covering_map(mappings: Iterable[tuple[int, int, str]]) -> dict[int, set[int]]:
    """covered_by[a] = controls whose implementation also implements a (see scoring.effective_states)."""
    covered_by: dict[int, set[int]] = defaultdict(set)
    for source, target, relationship in mappings:
        if relationship in (Relationship.EQUAL, Relationship.SUBSET):
            covered_by[source].add(target)
        if relationship in (Relationship.EQUAL, Relationship.SUPERSET):
            covered_by[target].add(source)
    return covered_by


def controls_with_policy_in_force(organisation: Organisation) -> QuerySet[Any]:
    """Ids of controls that the organisation's policies in force (published, not retired) cover.

    Uncorrelated on purpose: used as `pk IN (...)` the database works it out once, not once per control.
    """
    return policy_links_in_force().filter(policy__organisation=organisation).values("control_id")


def policy_links_in_force() -> QuerySet[Any]:
    """Policy-to-control links of policies in force, for every organisation: filter and pick values."""
    from policies.models import Policy, PolicyStatus

    return Policy.controls.through.objects.exclude(policy__status=PolicyStatus.RETIRED).filter(
        policy__versions__published_at__isnull=False
    )


# A control as readiness reads it: id, framework_id, group_id, weight, auto_fail, applies_if (JSON text),
# position, policy_in_force, evidence_current, keeps_evidence; in library order.
ControlRow = tuple[int, int, int, int, bool, str, int, bool, bool, bool]


def readiness_for(organisation: Organisation) -> Readiness:
    """Readiness of every adopted framework from the open round's answers: five queries in all
    (adoptions, profile, controls, answers, mappings), two when nothing is adopted."""
    adoptions = list(adoptions_for(organisation))
    profile = profile_for(organisation)
    framework_ids = [adoption.framework_id for adoption in adoptions]
    rows: list[ControlRow] = []
    answers: dict[int, AnswerRef] = {}
    edges: list[tuple[int, int, str]] = []
    if framework_ids:
        # `applies_if` as its JSON text: most controls have none ("[]"), and decoding only the others
        # saves a millisecond on a large organisation. Sorted here in library order: the model's
        # default ordering (by framework) would join the frameworks to sort 500 rows.
        framework_order = {adoption.framework_id: adoption.framework.position for adoption in adoptions}
        rows = sorted(
            Control.objects.live()
            .filter(framework_id__in=framework_ids, assessable=True)
            .order_by()
            # Whether a published policy covers the control, in the same query (policies count too).
            .annotate(
                policy_in_force=ExpressionWrapper(
                    Q(pk__in=controls_with_policy_in_force(organisation)), output_field=BooleanField()
                ),
                # Current evidence on the control, and whether the organisation keeps evidence at all
                # (until it does, evidence is not considered): both in this same query.
                evidence_current=ExpressionWrapper(
                    Q(pk__in=controls_with_current_evidence(organisation)), output_field=BooleanField()
                ),
                keeps_evidence=Exists(Evidence.objects.filter(organisation=organisation)),
            )
            .values_list(
                "id",
                "framework_id",
                "group_id",
                "weight",
                "auto_fail",
                Cast("applies_if", TextField()),
                "position",
                "policy_in_force",
                "evidence_current",
                "keeps_evidence",
            ),
            key=lambda row: (framework_order[row[1]], row[6]),
        )
        answers = {
            control_id: AnswerRef(status, via_control_id)
            for control_id, status, via_control_id in Answer.objects.filter(
                organisation=organisation, round__closed_at__isnull=True
            ).values_list("control_id", "status", "via_control_id")
        }
        # Mappings from the adopted frameworks' controls: those to other frameworks, to retired controls
        # or to controls that cannot be assessed are left out below (one join instead of two).
        edges = list(
            ControlMapping.objects.filter(source__framework_id__in=framework_ids).values_list(
                "source_id", "target_id", "relationship"
            )
        )
    return readiness_from_rows(
        organisation_id=organisation.pk, adoptions=adoptions, profile=profile, rows=rows, answers=answers, edges=edges
    )


def readiness_from_rows(
    *,
    organisation_id: int,
    adoptions: list[FrameworkAdoption],
    profile: BusinessProfile | None,
    rows: list[ControlRow],
    answers: dict[int, AnswerRef],
    edges: list[tuple[int, int, str]],
) -> Readiness:
    """Readiness from what `readiness_for` reads; shared with readers that load many organisations at
    once (assessments.client_overview), so the figures cannot drift apart."""
    facts = profile_facts(profile)
    assessable = {row[0] for row in rows}
    edges = [edge for edge in edges if edge[0] in assessable and edge[1] in assessable]
    mapped: dict[int, set[int]] = defaultdict(set)
    for source, target, _relationship in edges:
        mapped[source].add(target)
        mapped[target].add(source)

    excluded: dict[int, list[str]] = {}
    raw_states = []
    for (
        control_id,
        framework_id,
        group_id,
        weight,
        auto_fail,
        applies_if_json,
        _position,
        policy_in_force,
        evidence_current,
        keeps_evidence,
    ) in rows:
        applies_if = json.loads(applies_if_json) if applies_if_json != "[]" else []
        applies = control_applies(applies_if, facts) if applies_if else True
        if not applies:
            excluded[control_id] = [fact for fact in applies_if if not facts.get(fact, False)]
        answer = answers.get(control_id)
        raw_states.append(
            scoring.ControlState(
                control_id=control_id,
                framework_id=framework_id,
                group_id=group_id,
                weight=weight,
                auto_fail=auto_fail,
                applicable=applies,
                status=answer.status if answer else None,
                policy_in_force=policy_in_force,
                evidence_current=evidence_current if keeps_evidence else None,
            )
        )
    covered_by = covering_map(edges)
    states = {state.control_id: state for state in scoring.effective_states(raw_states, covered_by)}
    by_framework: dict[int, list[scoring.ControlState]] = defaultdict(list)
    for state in states.values():
        by_framework[state.framework_id].append(state)
    return Readiness(
        organisation_id=organisation_id,
        profile=profile,
        frameworks=[
            FrameworkReadiness(adoption=adoption, states=by_framework.get(adoption.framework_id, []))
            for adoption in adoptions
        ],
        states=states,
        answers=answers,
        mapped=dict(mapped),
        covered_by=dict(covered_by),
        excluded_by_profile=excluded,
    )


@dataclass(frozen=True)
class RankedGap:
    """A gap as ranked, without its control's model: what ordering and counting need."""

    control_id: int
    framework_id: int
    weight: int
    auto_fail: bool
    status: str | None
    lost_points: Decimal
    impact: Decimal
    mapped_count: int


@dataclass(frozen=True)
class Gap(RankedGap):
    """A gap with its control, for showing it."""

    control: Control


def ranked_gaps(readiness: Readiness) -> list[RankedGap]:
    """Applicable controls not fully implemented, costliest first, without loading a control.

    Impact = points lost in its framework × (1 + the number of adopted controls mapped to it), so a
    gap that also closes gaps elsewhere ranks higher; auto-fail gaps come before everything.
    """
    order = {pk: index for index, pk in enumerate(readiness.states)}
    gaps: list[RankedGap] = []
    for framework in readiness.frameworks:
        framework_id = framework.adoption.framework_id
        for contribution in framework.score.contributions:
            if contribution.status == scoring.IMPLEMENTED:
                continue
            mapped_count = len(readiness.mapped.get(contribution.control_id, ()))
            gaps.append(
                RankedGap(
                    control_id=contribution.control_id,
                    framework_id=framework_id,
                    weight=contribution.weight,
                    auto_fail=contribution.auto_fail,
                    status=contribution.status,
                    lost_points=contribution.lost,
                    impact=contribution.lost * (1 + mapped_count),
                    mapped_count=mapped_count,
                )
            )
    # Library order (framework position, then control position) breaks ties.
    return sorted(gaps, key=lambda gap: (not gap.auto_fail, -gap.impact, order[gap.control_id]))


def with_controls(gaps: Iterable[RankedGap], controls: dict[int, Control]) -> list[Gap]:
    """The gaps with their controls' models (from `Readiness.load_controls`)."""
    return [Gap(**gap.__dict__, control=controls[gap.control_id]) for gap in gaps]


def gaps_for(readiness: Readiness) -> list[Gap]:
    """Every gap, costliest first, with its control (one query): see `ranked_gaps`."""
    ranked = ranked_gaps(readiness)
    return with_controls(ranked, readiness.load_controls(gap.control_id for gap in ranked))


def snapshots_for(organisation: Organisation, *, since: date | None = None) -> QuerySet[ReadinessSnapshot]:
    snapshots = ReadinessSnapshot.objects.filter(organisation=organisation).order_by("taken_at")
    if since is not None:
        snapshots = snapshots.filter(taken_at__date__gte=since)
    return snapshots


def tasks_for(organisation: Organisation, *, owner_id: int | None = None, status: str = "") -> QuerySet[PlanTask]:
    # How many controls each task links, not the controls: the plan shows the count.
    tasks = (
        PlanTask.objects.filter(organisation=organisation)
        .select_related("owner")
        .annotate(control_count=Count("controls"))
    )
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
