"""The dashboard: where the organisation stands, how it got there, and the one thing to do next."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from accounts.access import member_required, require_membership
from accounts.models import AuditEvent, Membership, Organisation
from accounts.roles import Capability
from accounts.selectors import organisation_audit_events
from assessments import charts, selectors
from assessments.models import AnswerStatus, BusinessProfile, PlanTask, TaskStatus
from assessments.scoring import band_for
from compliance.models import Control
from config.pages import render_page

TREND_DAYS = 90
TOP_GAPS = 5
TASKS_SHOWN = 8
ACTIVITY_SHOWN = 8
# Below this share of applicable controls answered, the assessment is the next step.
ASSESSMENT_DONE_SHARE = Decimal("0.5")


@dataclass(frozen=True)
class Band:
    """A readiness band in words as well as colour: the colour never carries the meaning alone."""

    key: str
    name: str
    label: str
    badge: str


BANDS = {
    "green": Band("green", "Green", "on track", "badge-success"),
    "amber": Band("amber", "Amber", "getting there", "badge-warning"),
    "red": Band("red", "Red", "needs work", "badge-danger"),
}


@dataclass(frozen=True)
class NextStep:
    key: str
    title: str
    text: str
    url: str
    action: str
    # Viewers can read every page but change nothing: such a step is theirs to ask for, not to take.
    needs_edit: bool = True


@dataclass(frozen=True)
class FrameworkCard:
    readiness: selectors.FrameworkReadiness
    band: Band
    failing: list[Control]
    chart: SafeString


@dataclass(frozen=True)
class GapRow:
    gap: selectors.Gap
    status_label: str


def _next_step(
    *,
    profile: BusinessProfile | None,
    readiness: selectors.Readiness,
    gaps: int,
    plan_head: PlanTask | None,
) -> NextStep:
    """The single most useful thing to do now, from the organisation's state, in journey order."""
    if profile is None or (profile.completed_at is None and not readiness.frameworks):
        started = profile is not None and bool(profile.last_step)
        return NextStep(
            "profile",
            "Tell us about your business",
            "A few short questions about what you do, the data you handle and the technology you use. "
            "Greenlight then recommends the frameworks that fit, and says why.",
            reverse("onboarding"),
            "Continue your business profile" if started else "Start your business profile",
        )
    if not readiness.frameworks:
        return NextStep(
            "frameworks",
            "Choose your frameworks",
            "Your business profile is done. See which frameworks we recommend and why, then adopt the ones "
            "you want to work towards.",
            reverse("recommendations"),
            "See your recommendations",
        )
    applicable = sum(f.score.applicable for f in readiness.frameworks)
    answered = sum(f.score.answered for f in readiness.frameworks)
    if _assessment_unfinished(readiness):
        return NextStep(
            "assessment",
            "Continue your assessment",
            f"You have answered {answered} of the {applicable} controls that apply to you. Each answer saves "
            "as you go, so you can stop and come back at any time.",
            reverse("assessment"),
            "Continue your assessment",
        )
    if plan_head is None and gaps:
        return NextStep(
            "plan",
            "Build your plan",
            f"Your assessment found {gaps} gap{'s' if gaps != 1 else ''}. Turn them into a plan of dated tasks, "
            "with anything that would fail you and the quick wins first.",
            reverse("plan"),
            "Build your plan",
        )
    if plan_head is not None and plan_head.status != TaskStatus.DONE:
        if plan_head.due_date is None:
            when = "It has no due date yet."
        elif plan_head.is_overdue:
            when = f"It was due on {charts.long_date(plan_head.due_date)} and is overdue."
        else:
            when = f"It is due on {charts.long_date(plan_head.due_date)}."
        return NextStep(
            "task",
            plan_head.title,
            f"Your next task. {when}",
            reverse("task_detail", kwargs={"plantask_id": plan_head.pk}),
            "Open the task",
            needs_edit=False,
        )
    return NextStep(
        "review",
        "Review your readiness",
        "Nothing in your plan is waiting. Check how each score is worked out, and start a new assessment round "
        "when your business changes.",
        reverse("readiness_explained"),
        "See how your readiness is worked out",
        needs_edit=False,
    )


def _assessment_unfinished(readiness: selectors.Readiness) -> bool:
    applicable = sum(f.score.applicable for f in readiness.frameworks)
    answered = sum(f.score.answered for f in readiness.frameworks)
    return bool(applicable) and answered < applicable * ASSESSMENT_DONE_SHARE


def _plan_head(organisation: Organisation) -> PlanTask | None:
    """The open task due soonest (undated last); a finished task only when every task is done."""
    return (
        PlanTask.objects.filter(organisation=organisation)
        .annotate(done=Case(When(status=TaskStatus.DONE, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("done", F("due_date").asc(nulls_last=True), "priority", "position")
        .first()
    )


def _trends(organisation: Organisation, since: date) -> dict[int | None, list[tuple[date, Decimal]]]:
    """A value a day (the day's last snapshot) by framework id (None: overall), oldest first."""
    found: dict[int | None, list[tuple[date, Decimal]]] = defaultdict(list)
    rows = (
        selectors.snapshots_for(organisation, since=since)
        .annotate(day=TruncDate("taken_at"))
        .values_list("framework_id", "day", "score")
    )
    for framework_id, day, score in rows:
        found[framework_id].append((day, score))
    return found


def _series(name: str, snapshots: list[tuple[date, Decimal]], *, today: date, now: Decimal) -> charts.Series:
    """The snapshots' days, ending with today's live score so the line meets the number beside it."""
    points = [(day, value) for day, value in charts.daily_last(snapshots) if day < today]
    return charts.Series(name, [*points, (today, now)])


def _chart(series: charts.Series, *, chart_id: str, since: date, today: date, small: bool = False) -> SafeString:
    title = f"{series.name} readiness over the last {TREND_DAYS} days"
    # The framework cards are narrower: a smaller drawing keeps their labels as legible as the big chart's.
    width, height = (280, 130) if small else (360, 150)
    return charts.line_chart(
        [series], title=title, chart_id=chart_id, start=since, end=today, width=width, height=height
    )


def _activity(membership: Membership) -> QuerySet[AuditEvent] | None:
    """The audit log is for those who administer; others see their own recent changes, viewers nothing."""
    events = organisation_audit_events(membership.organisation)
    if membership.can(Capability.ADMINISTER):
        return events[:ACTIVITY_SHOWN]
    if membership.can(Capability.EDIT):
        return events.filter(actor_id=membership.user_id)[:ACTIVITY_SHOWN]
    return None


@require_GET
@member_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    organisation = membership.organisation
    today = timezone.localdate()
    readiness = selectors.readiness_for(organisation)
    profile = readiness.profile
    context: dict[str, object] = {"profile": profile, "readiness": readiness, "today": today}

    if not readiness.frameworks:
        context["next_step"] = _next_step(profile=profile, readiness=readiness, gaps=0, plan_head=None)
        return render_page(request, "assessments/dashboard.html", context)

    gaps = selectors.ranked_gaps(readiness)
    # The models of what the page names, in one query: the top gaps and the controls that would fail.
    failing_ids = [pk for framework in readiness.frameworks for pk in framework.score.failing_controls]
    controls = readiness.load_controls([*(gap.control_id for gap in gaps[:TOP_GAPS]), *failing_ids])
    applicable = sum(f.score.applicable for f in readiness.frameworks)
    answered = sum(f.score.answered for f in readiness.frameworks)
    # Only asked once the assessment is far enough along for the plan to be the next step.
    plan_head = None if _assessment_unfinished(readiness) else _plan_head(organisation)
    since = today - timedelta(days=TREND_DAYS)
    trends = _trends(organisation, since)

    cards, all_series = [], []
    for framework in readiness.frameworks:
        series = _series(
            framework.framework.name,
            trends.get(framework.adoption.framework_id, []),
            today=today,
            now=framework.score.percent,
        )
        all_series.append(series)
        cards.append(
            FrameworkCard(
                readiness=framework,
                band=BANDS[framework.score.band],
                failing=[controls[pk] for pk in framework.score.failing_controls],
                chart=_chart(
                    series, chart_id=f"trend-{framework.framework.slug}", since=since, today=today, small=True
                ),
            )
        )
    overall_series = _series("Overall", trends.get(None, []), today=today, now=readiness.overall)
    statuses = dict(AnswerStatus.choices)
    tasks = list(selectors.tasks_due(organisation)[: TASKS_SHOWN + 1])

    context.update(
        {
            "next_step": _next_step(profile=profile, readiness=readiness, gaps=len(gaps), plan_head=plan_head),
            "overall": {
                "percent": readiness.overall,
                "band": BANDS[band_for(readiness.overall)],
                "applicable": applicable,
                "answered": answered,
                "implemented": sum(f.score.implemented for f in readiness.frameworks),
                "would_fail": [card for card in cards if card.readiness.score.would_fail],
                "chart": _chart(overall_series, chart_id="trend-overall", since=since, today=today),
            },
            "cards": cards,
            "gaps": [
                GapRow(gap, statuses.get(gap.status, "Not answered") if gap.status else "Not answered")
                for gap in selectors.with_controls(gaps[:TOP_GAPS], controls)
            ],
            "gap_count": len(gaps),
            "tasks": tasks[:TASKS_SHOWN],
            "more_tasks": len(tasks) > TASKS_SHOWN,
            "activity": _activity(membership),
            # Every chart's points in one table, for people who cannot see the charts.
            "trend_table": charts.data_table(
                [overall_series, *all_series], caption=f"Readiness over the last {TREND_DAYS} days, by day"
            ),
        }
    )
    return render_page(request, "assessments/dashboard.html", context)
