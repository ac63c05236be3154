"""Readiness explained: the formula, each framework's points control by control, and the gap list."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from accounts.access import member_required, require_membership
from assessments import scoring, selectors, services
from assessments.access import get_adopted_framework_for
from assessments.models import AnswerStatus
from assessments.views.answer_items import control_url
from compliance.models import Control
from config.pages import render_page

GAPS_PAGE_SIZE = 50
STATUS_LABELS: dict[str | None, str] = {**dict(AnswerStatus.choices), None: "Not answered"}


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status, str(status))


def _plain(value: Decimal) -> Decimal:
    """20.0 as 20 and 23.50 as 23.5: sums of weights × credits are whole or halves."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.quantize(Decimal("0.1"))


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if whole else Decimal(0)


@dataclass(frozen=True)
class FailingControl:
    control: Control
    status: str | None

    @property
    def status_label(self) -> str:
        return status_label(self.status)


@dataclass
class FrameworkSummary:
    readiness: selectors.FrameworkReadiness
    failing: list[FailingControl]


def _formula() -> dict[str, object]:
    """The numbers of the formula, from the scoring module, so the page cannot drift from the code."""
    return {
        "credit_partial": scoring.CREDIT[scoring.PARTIAL],
        "credit_unevidenced": scoring.UNEVIDENCED_CREDIT,
        "green_from": scoring.GREEN_FROM,
        "amber_from": scoring.AMBER_FROM,
    }


def _failing(
    readiness: selectors.Readiness, score: scoring.Score, controls: dict[int, Control]
) -> list[FailingControl]:
    return [FailingControl(control=controls[pk], status=readiness.states[pk].status) for pk in score.failing_controls]


@require_GET
@member_required()
def readiness_explained(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    readiness = selectors.readiness_for(organisation)
    controls = readiness.load_controls(pk for f in readiness.frameworks for pk in f.score.failing_controls)
    summaries = [
        FrameworkSummary(readiness=f, failing=_failing(readiness, f.score, controls)) for f in readiness.frameworks
    ]
    return render_page(
        request,
        "assessments/readiness.html",
        {
            "readiness": readiness,
            "summaries": summaries,
            "overall_band": scoring.band_for(readiness.overall),
            **_formula(),
        },
    )


# --- One framework, control by control -----------------------------------------------------------
@dataclass(frozen=True)
class Row:
    control: Control
    contribution: scoring.Contribution
    via: Control | None

    @property
    def status_label(self) -> str:
        return status_label(self.contribution.status)


@dataclass
class GroupSubtotal:
    title: str
    ref: str
    position: int
    score: scoring.Score
    weight: int = 0
    weighted_credit: Decimal = Decimal(0)
    possible: Decimal = Decimal(0)
    earned: Decimal = Decimal(0)

    @property
    def lost(self) -> Decimal:
        return self.possible - self.earned


@dataclass(frozen=True)
class Excluded:
    control: Control
    answer: selectors.AnswerDetail | None = None
    unmet_facts: tuple[str, ...] = ()


def _explanation(readiness: selectors.Readiness, framework: selectors.FrameworkReadiness) -> dict[str, object]:
    # The framework's controls and those its answers came through, in one query (and one for their groups).
    framework_id = framework.adoption.framework_id
    own = readiness.framework_control_ids(framework_id)
    vias = {c.via_control_id for c in framework.score.contributions if c.via_control_id}
    controls = readiness.load_controls(vias, framework_id=framework_id, groups=True)
    rows = [
        Row(
            control=controls[c.control_id],
            contribution=c,
            via=controls.get(c.via_control_id) if c.via_control_id else None,
        )
        for c in framework.score.contributions  # already sorted by points lost, most first
    ]
    # Totals are worked out from the weights, not by adding the rounded rows, so they equal the score.
    total_weight = sum(c.weight for c in framework.score.contributions)
    weighted_credit = sum((c.weight * c.credit for c in framework.score.contributions), Decimal(0))
    possible = Decimal("100.0") if total_weight else Decimal(0)
    earned = _percent(weighted_credit, Decimal(total_weight))

    groups: dict[int, GroupSubtotal] = {}
    for row in rows:
        group = row.control.group
        subtotal = groups.get(group.pk)
        if subtotal is None:
            subtotal = groups[group.pk] = GroupSubtotal(
                title=group.title, ref=group.ref, position=group.position, score=framework.groups[group.pk]
            )
        subtotal.weight += row.contribution.weight
        subtotal.weighted_credit += row.contribution.weight * row.contribution.credit
    for subtotal in groups.values():
        subtotal.possible = _percent(Decimal(subtotal.weight), Decimal(total_weight))
        subtotal.earned = _percent(subtotal.weighted_credit, Decimal(total_weight))

    by_profile: list[Excluded] = []
    not_applicable = [pk for pk in own if readiness.states[pk].status == scoring.NOT_APPLICABLE]
    # Their justifications, for those answered "not applicable" (one query).
    answers = readiness.load_answers(pk for pk in not_applicable if pk not in readiness.excluded_by_profile)
    by_answer: list[Excluded] = []
    for pk in own:
        control = controls[pk]
        if pk in readiness.excluded_by_profile:
            by_profile.append(Excluded(control=control, unmet_facts=tuple(readiness.excluded_by_profile[pk])))
        elif readiness.states[pk].status == scoring.NOT_APPLICABLE:
            by_answer.append(Excluded(control=control, answer=answers.get(pk)))
    return {
        "rows": rows,
        "groups": sorted(groups.values(), key=lambda g: (-g.lost, g.position)),
        "total_weight": total_weight,
        "weighted_credit": _plain(weighted_credit),
        "total_possible": possible,
        "total_earned": earned,
        "total_lost": possible - earned,
        "excluded_by_answer": by_answer,
        "excluded_by_profile": by_profile,
        "failing": _failing(readiness, framework.score, controls),
    }


@require_GET
@member_required()
def readiness_framework(request: HttpRequest, framework_slug: str) -> HttpResponse:
    adoption = get_adopted_framework_for(request, framework_slug)
    readiness = selectors.readiness_for(require_membership(request).organisation)
    framework = readiness.for_framework(adoption.framework_id)
    assert framework is not None  # adopted, so readiness_for computed it
    return render_page(
        request,
        "assessments/readiness_framework.html",
        {"framework": framework, "adoption": adoption, **_explanation(readiness, framework), **_formula()},
    )


# --- Gaps -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GapRow:
    gap: selectors.Gap
    framework_name: str
    open_task_id: int | None
    # What "Add to plan" links: the gap, and the mapped gaps without an open task that it also closes.
    plan_controls: tuple[int, ...]
    priority: int
    guidance: str = ""

    @property
    def control(self) -> Control:
        return self.gap.control

    @property
    def status_label(self) -> str:
        return status_label(self.gap.status)

    # Worked out here rather than by tags (`{% url %}`, number formatting) 50 times a page.
    @property
    def dom(self) -> str:
        return str(self.gap.control_id)

    @property
    def url(self) -> str:
        return control_url(self.control.framework.slug, self.control.ref)

    @property
    def open_task_url(self) -> str:
        return f"{_task_url_prefix()}{self.open_task_id}/"

    @property
    def lost_points(self) -> str:
        return str(self.gap.lost_points)

    @property
    def plan_inputs(self) -> SafeString:
        return mark_safe(  # noqa: S308 - ids only
            "".join(f'<input type="hidden" name="controls" value="{pk}">' for pk in self.plan_controls)
        )

    @property
    def also_closes(self) -> int:
        return len(self.plan_controls) - 1


@cache
def _task_url_prefix() -> str:
    return reverse("task_detail", args=[0]).removesuffix("0/")


@require_GET
@member_required()
def gaps(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    readiness = selectors.readiness_for(organisation)
    frameworks = [f.framework for f in readiness.frameworks]
    chosen = next((f for f in frameworks if f.slug == request.GET.get("framework")), None)
    all_gaps = selectors.ranked_gaps(readiness)
    gap_ids = {gap.control_id for gap in all_gaps}
    open_tasks = selectors.open_tasks_by_control(organisation)
    shown = [gap for gap in all_gaps if chosen is None or gap.framework_id == chosen.pk]
    page = Paginator(shown, GAPS_PAGE_SIZE).get_page(request.GET.get("page"))
    # Only the page's controls are loaded, with their guidance, in one query.
    controls = readiness.load_controls((gap.control_id for gap in page.object_list), guidance=True)
    rows = [
        GapRow(
            gap=gap,
            framework_name=gap.control.framework.name,
            open_task_id=min(open_tasks[gap.control_id]) if gap.control_id in open_tasks else None,
            plan_controls=(
                gap.control_id,
                *sorted(
                    pk for pk in readiness.mapped.get(gap.control_id, ()) if pk in gap_ids and pk not in open_tasks
                ),
            ),
            priority=services.gap_priority(gap),
            guidance=gap.control.guidance,
        )
        for gap in selectors.with_controls(page.object_list, controls)
    ]
    return render_page(
        request,
        "assessments/gaps.html",
        {
            "readiness": readiness,
            "frameworks": frameworks,
            "chosen": chosen,
            "page": page,
            "rows": rows,
            "shown_ids": ",".join(row.dom for row in rows),
            "gap_count": len(shown),
            "auto_fail_count": sum(1 for gap in shown if gap.auto_fail),
        },
        fragment="results",
    )
