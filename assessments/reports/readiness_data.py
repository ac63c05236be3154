"""The readiness report's figures, read in a fixed number of queries whatever the organisation's size.

Scores, bands and gaps come from `assessments.selectors` (the same numbers every page shows); the plan,
evidence register and policies are counted in SQL. Rows are read as plain values, never as models, so
an organisation with every framework adopted and thousands of evidence items stays quick and small.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts.models import Organisation
from assessments import charts, selectors
from assessments.models import Answer, AnswerStatus, PlanTask, TaskStatus
from assessments.reports import Progress
from assessments.scoring import band_for
from compliance.models import Control
from evidence.models import COUNTING_STATUSES, Evidence, EvidenceStatus
from evidence.selectors import current_evidence_q

TOP_GAPS = 15
TREND_DAYS = 90
EXPIRY_WINDOW_DAYS = 30
# Lists inside a section stop here: the report is a summary, the pages hold the rest.
LISTED = 10
# Evidence titles named per control in the appendix; the count says how many more there are.
TITLES_PER_CONTROL = 3

BAND_LABELS = {"green": "Green: on track", "amber": "Amber: getting there", "red": "Red: needs work"}
NOT_ANSWERED = "Not answered"


@dataclass(frozen=True)
class FrameworkLine:
    framework_id: int
    name: str
    percent: Decimal
    band: str
    would_fail: bool
    applicable: int
    answered: int
    implemented: int

    @property
    def band_label(self) -> str:
        return BAND_LABELS[self.band]


@dataclass(frozen=True)
class GapLine:
    framework: str
    ref: str
    title: str
    status: str
    lost_points: Decimal
    auto_fail: bool
    mapped_count: int


@dataclass(frozen=True)
class ControlLine:
    ref: str
    title: str
    status: str
    owner: str
    evidence_count: int
    evidence_current: int
    evidence_titles: tuple[str, ...]


@dataclass(frozen=True)
class AppendixFramework:
    name: str
    controls: list[ControlLine]


@dataclass(frozen=True)
class Listed:
    """One line of a bounded list: a task, an evidence item or a policy, with its date and owner."""

    title: str
    day: date | None
    owner: str


@dataclass(frozen=True)
class PlanSummary:
    total: int
    by_status: list[tuple[str, int]]
    overdue: int
    due_soon: int
    overdue_tasks: list[Listed]


@dataclass(frozen=True)
class EvidenceSummary:
    total: int
    by_status: list[tuple[str, int]]
    current: int
    expiring: int
    expired: int
    expiring_items: list[Listed]


@dataclass(frozen=True)
class PolicySummary:
    total: int
    by_status: list[tuple[str, int]]
    review_due: int
    review_due_policies: list[Listed]


@dataclass(frozen=True)
class TrendSeries:
    name: str
    points: list[tuple[date, float]]


@dataclass
class ReadinessReportData:
    organisation: str
    generated_on: date
    requested_by: str
    overall: Decimal
    frameworks: list[FrameworkLine]
    gaps: list[GapLine]
    gap_count: int
    plan: PlanSummary
    evidence: EvidenceSummary
    policies: PolicySummary
    trend_start: date
    trend: list[TrendSeries] = field(default_factory=list)
    appendix: list[AppendixFramework] = field(default_factory=list)

    @property
    def overall_band(self) -> str:
        return band_for(self.overall)


def _person(full_name: str | None, email: str | None) -> str:
    return full_name or email or ""


def readiness_report_data(
    organisation: Organisation, *, requested_by: str = "", today: date, progress: Progress | None = None
) -> ReadinessReportData:
    """Everything the readiness report shows. `progress(percent, message)` hears of each step."""
    report = progress or (lambda _percent, _message: None)
    report(5, "Working out readiness")
    readiness = selectors.readiness_for(organisation)
    frameworks = [
        FrameworkLine(
            framework_id=f.adoption.framework_id,
            name=f.framework.name,
            percent=f.score.percent,
            band=f.score.band,
            would_fail=f.score.would_fail,
            applicable=f.score.applicable,
            answered=f.score.answered,
            implemented=f.score.implemented,
        )
        for f in readiness.frameworks
    ]
    names = {line.framework_id: line.name for line in frameworks}
    # Every control readiness counts, as plain values: refs and titles for the gaps and the appendix.
    controls = {
        pk: (ref, title)
        for pk, ref, title in Control.objects.filter(pk__in=_adopted_controls(readiness)).values_list(
            "pk", "ref", "title"
        )
    }
    statuses = dict(AnswerStatus.choices)

    report(12, "Ranking the gaps")
    ranked = selectors.ranked_gaps(readiness)
    gaps = [
        GapLine(
            framework=names[gap.framework_id],
            ref=controls[gap.control_id][0],
            title=controls[gap.control_id][1],
            status=statuses.get(gap.status or "", NOT_ANSWERED),
            lost_points=gap.lost_points,
            auto_fail=gap.auto_fail,
            mapped_count=gap.mapped_count,
        )
        for gap in ranked[:TOP_GAPS]
    ]

    report(16, "Reading the plan, evidence and policies")
    data = ReadinessReportData(
        organisation=organisation.name,
        generated_on=today,
        requested_by=requested_by,
        overall=readiness.overall,
        frameworks=frameworks,
        gaps=gaps,
        gap_count=len(ranked),
        plan=_plan(organisation, today),
        evidence=_evidence(organisation, today),
        policies=_policies(organisation, today),
        trend_start=today - timedelta(days=TREND_DAYS),
    )
    data.trend = _trend(organisation, readiness, names, since=data.trend_start, today=today)

    report(22, "Listing every control")
    data.appendix = _appendix(organisation, readiness, controls, names, statuses, today)
    return data


def _adopted_controls(readiness: selectors.Readiness) -> QuerySet[Control, dict[str, Any]]:
    # By framework rather than by 500 ids: the same controls readiness counts, a short query.
    framework_ids = [f.adoption.framework_id for f in readiness.frameworks]
    return Control.objects.live().filter(framework_id__in=framework_ids, assessable=True).values("pk")


def _plan(organisation: Organisation, today: date) -> PlanSummary:
    open_tasks = ~Q(status=TaskStatus.DONE)
    figures = PlanTask.objects.filter(organisation=organisation).aggregate(
        total=Count("pk"),
        **{f"status_{value}": Count("pk", filter=Q(status=value)) for value in TaskStatus.values},
        overdue=Count("pk", filter=open_tasks & Q(due_date__lt=today)),
        due_soon=Count("pk", filter=open_tasks & Q(due_date__gte=today, due_date__lte=today + timedelta(days=14))),
    )
    overdue = (
        PlanTask.objects.filter(organisation=organisation, due_date__lt=today)
        .exclude(status=TaskStatus.DONE)
        .order_by("due_date", "priority", "pk")
        .values_list("title", "due_date", "owner__full_name", "owner__email")[:LISTED]
    )
    return PlanSummary(
        total=figures["total"],
        by_status=[(label, figures[f"status_{value}"]) for value, label in TaskStatus.choices],
        overdue=figures["overdue"],
        due_soon=figures["due_soon"],
        overdue_tasks=[Listed(title, due, _person(name, email)) for title, due, name, email in overdue],
    )


def _evidence(organisation: Organisation, today: date) -> EvidenceSummary:
    items = Evidence.objects.filter(organisation=organisation)
    soon = today + timedelta(days=EXPIRY_WINDOW_DAYS)
    # The same definitions as the register's header: expiring within 30 days, past valid-until.
    figures = items.aggregate(
        total=Count("status"),
        current=Count("status", filter=current_evidence_q(today)),
        expiring=Count("status", filter=Q(valid_until__gte=today, valid_until__lte=soon)),
        expired=Count("status", filter=Q(valid_until__lt=today)),
        **{f"status_{value}": Count("status", filter=Q(status=value)) for value in EvidenceStatus.values},
    )
    expiring = (
        items.filter(valid_until__gte=today, valid_until__lte=soon)
        .order_by("valid_until", "pk")
        .values_list("title", "valid_until", "owner__full_name", "owner__email")[:LISTED]
    )
    return EvidenceSummary(
        total=figures["total"],
        by_status=[(label, figures[f"status_{value}"]) for value, label in EvidenceStatus.choices],
        current=figures["current"],
        expiring=figures["expiring"],
        expired=figures["expired"],
        expiring_items=[Listed(title, day, _person(name, email)) for title, day, name, email in expiring],
    )


def _policies(organisation: Organisation, today: date) -> PolicySummary:
    from policies.models import Policy, PolicyStatus

    policies = Policy.objects.filter(organisation=organisation)
    due = Q(review_date__lte=today) & ~Q(status=PolicyStatus.RETIRED)
    figures = policies.aggregate(
        total=Count("pk"),
        review_due=Count("pk", filter=due),
        **{f"status_{value}": Count("pk", filter=Q(status=value)) for value in PolicyStatus.values},
    )
    listed = (
        policies.filter(due)
        .order_by("review_date", "title")
        .values_list("title", "review_date", "owner__full_name", "owner__email")[:LISTED]
    )
    return PolicySummary(
        total=figures["total"],
        by_status=[(label, figures[f"status_{value}"]) for value, label in PolicyStatus.choices],
        review_due=figures["review_due"],
        review_due_policies=[Listed(title, day, _person(name, email)) for title, day, name, email in listed],
    )


def _trend(
    organisation: Organisation, readiness: selectors.Readiness, names: dict[int, str], *, since: date, today: date
) -> list[TrendSeries]:
    """A value a day per framework and overall, ending with today's score as the dashboard's lines do."""
    found: dict[int | None, list[tuple[datetime, Decimal]]] = defaultdict(list)
    rows = selectors.snapshots_for(organisation, since=since).values_list("framework_id", "taken_at", "score")
    for framework_id, taken_at, score in rows.iterator(chunk_size=2000):
        found[framework_id].append((taken_at, score))

    def series(name: str, key: int | None, now: Decimal) -> TrendSeries:
        days = [(day, float(value)) for day, value in charts.daily_last(found.get(key, [])) if day < today]
        return TrendSeries(name, [*days, (today, float(now))])

    lines = [series("Overall", None, readiness.overall)]
    lines.extend(
        series(names[f.adoption.framework_id], f.adoption.framework_id, f.score.percent) for f in readiness.frameworks
    )
    return lines


def _appendix(
    organisation: Organisation,
    readiness: selectors.Readiness,
    controls: dict[int, tuple[str, str]],
    names: dict[int, str],
    statuses: dict[str, str],
    today: date,
) -> list[AppendixFramework]:
    """Every control of every adopted framework: its answer, evidence and owner, from three queries."""
    owners = {
        control_id: _person(name, email)
        for control_id, name, email in Answer.objects.filter(
            organisation=organisation, round__closed_at__isnull=True
        ).values_list("control_id", "owner__full_name", "owner__email")
    }
    # Newest first, so the titles named are the latest; current items are counted as they go by.
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    titles: dict[int, list[str]] = defaultdict(list)
    links = (
        Evidence.controls.through.objects.filter(
            evidence__organisation=organisation, control_id__in=_adopted_controls(readiness)
        )
        .order_by("control_id", "-evidence__collected_on", "-evidence_id")
        .values_list("control_id", "evidence__title", "evidence__status", "evidence__valid_until")
    )
    for control_id, title, status, valid_until in links.iterator(chunk_size=2000):
        tally = counts[control_id]
        tally[0] += 1
        if status in COUNTING_STATUSES and (valid_until is None or valid_until >= today):
            tally[1] += 1
        if len(titles[control_id]) < TITLES_PER_CONTROL:
            titles[control_id].append(title)

    by_framework: dict[int, list[ControlLine]] = defaultdict(list)
    for control_id, state in readiness.states.items():
        ref, title = controls[control_id]
        total, current = counts.get(control_id, (0, 0))
        by_framework[state.framework_id].append(
            ControlLine(
                ref=ref,
                title=title,
                status=_status_text(readiness, control_id, controls, statuses),
                owner=owners.get(control_id, ""),
                evidence_count=total,
                evidence_current=current,
                evidence_titles=tuple(titles.get(control_id, ())),
            )
        )
    return [
        AppendixFramework(names[f.adoption.framework_id], by_framework.get(f.adoption.framework_id, []))
        for f in readiness.frameworks
    ]


def _status_text(
    readiness: selectors.Readiness, control_id: int, controls: dict[int, tuple[str, str]], statuses: dict[str, str]
) -> str:
    """The answer as scored, saying where it came from when it was not answered directly."""
    state = readiness.states[control_id]
    if not state.applicable:
        return "Does not apply (business profile)"
    label = statuses.get(state.status or "", NOT_ANSWERED)
    if state.via_policy:
        return f"{label} (a published policy covers it)"
    via = readiness.via_id(control_id)
    if via is not None and via in controls:
        return f"{label} (through {controls[via][0]})"
    return label
