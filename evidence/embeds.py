"""Evidence shown on other apps' pages: a control's evidence and automated checks, the evidence behind a
plan task's controls, and the one-line evidence count on each assessment answer.

Host views add one line (`context["control_evidence"] = control_evidence_context(...)`) and their
templates include `evidence/includes/for_control.html` and friends. Each function costs a fixed number of
queries, however much evidence the organisation has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from html import escape

from django.db.models import Count, Exists, OuterRef
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Membership, Organisation
from accounts.roles import Capability
from compliance.models import Control
from evidence.models import CheckResult, Evidence
from evidence.selectors import current_evidence_q, evidence_for_control, latest_checks_for_controls

# Enough rows for a side panel; the rest are one click away in the register, filtered to the control.
SHOWN_ITEMS = 8

ControlCounts = dict[int, tuple[int, int]]


@cache
def _url(name: str) -> str:
    # Reversed once: an assessment page asks for these 100+ times.
    return reverse(name)


def add_evidence_url(control_id: int) -> str:
    return f"{_url('evidence_new')}?control={control_id}"


def register_url(control_id: int) -> str:
    return f"{_url('evidence_list')}?control={control_id}"


def evidence_counts_by_control(
    organisation: Organisation, control_ids: Iterable[int], today: date | None = None
) -> ControlCounts:
    """(total, current) pieces of evidence per control, in one aggregate query for a page of controls.
    Controls without evidence are left out; callers read them as (0, 0)."""
    ids = list(control_ids)
    if not ids:
        return {}
    rows = (
        Evidence.controls.through.objects.filter(evidence__organisation=organisation, control_id__in=ids)
        .values("control_id")
        .annotate(
            total=Count("evidence_id"),
            current=Count("evidence_id", filter=current_evidence_q(today, prefix="evidence__")),
        )
        .order_by()
    )
    return {row["control_id"]: (row["total"], row["current"]) for row in rows}


# --- A control's page ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlEvidence:
    control: Control
    items: list[Evidence]
    total: int
    current: int
    checks: list[CheckResult]
    can_edit: bool
    add_url: str
    register_url: str

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.items))


def control_evidence_context(
    organisation: Organisation, control: Control, membership: Membership, today: date | None = None
) -> ControlEvidence:
    """The control's evidence (newest first), its counts and the latest automated checks on it: three
    queries."""
    items = list(evidence_for_control(organisation, control)[:SHOWN_ITEMS])
    total, current = evidence_counts_by_control(organisation, [control.pk], today).get(control.pk, (0, 0))
    checks = list(latest_checks_for_controls(organisation, [control.pk]))
    return ControlEvidence(
        control=control,
        items=items,
        total=total,
        current=current,
        checks=checks,
        can_edit=membership.can(Capability.EDIT),
        add_url=add_evidence_url(control.pk),
        register_url=register_url(control.pk),
    )


# --- A plan task's page ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskEvidence:
    items: list[Evidence]
    more: bool
    can_edit: bool
    # Evidence for the task's first control; None when the task has no controls to attach it to.
    attach_url: str | None
    register_url: str | None
    control_ids: list[int] = field(default_factory=list)


def task_evidence_context(organisation: Organisation, control_ids: list[int], membership: Membership) -> TaskEvidence:
    """Evidence mapped to any of the task's controls (pass them in the task page's order): one query."""
    items: list[Evidence] = []
    if control_ids:
        mapped = Evidence.controls.through.objects.filter(evidence=OuterRef("pk"), control_id__in=control_ids)
        items = list(
            Evidence.objects.filter(organisation=organisation)
            .filter(Exists(mapped))
            .select_related("owner")
            .order_by("-collected_on", "-pk")[: SHOWN_ITEMS + 1]
        )
    first = control_ids[0] if control_ids else None
    return TaskEvidence(
        items=items[:SHOWN_ITEMS],
        more=len(items) > SHOWN_ITEMS,
        can_edit=membership.can(Capability.EDIT),
        attach_url=add_evidence_url(first) if first is not None else None,
        register_url=register_url(first) if first is not None else None,
        control_ids=list(control_ids),
    )


# --- An assessment answer --------------------------------------------------------------------------
def pieces(count: int) -> str:
    return f"{count} piece{'' if count == 1 else 's'} of evidence"


def answer_evidence_line(
    control_id: int, counts: ControlCounts, *, can_edit: bool, control_ref: str = ""
) -> SafeString:
    """The compact line under an answer: "2 pieces of evidence · 1 current · Add". Built as a string
    because the assessment builds its 100+ answer rows without templates; for_answer.html is the same
    markup for template hosts (a test keeps the two identical)."""
    total, current = counts.get(control_id, (0, 0))
    ref = f" for {escape(control_ref)}" if control_ref else ""
    if total:
        summary = (
            f'<a href="{escape(register_url(control_id))}">{pieces(total)}'
            f'<span class="visually-hidden">{ref}</span></a> · {current} current'
        )
    else:
        summary = "No evidence yet"
    add_url = escape(add_evidence_url(control_id))
    add = f' · <a href="{add_url}">Add<span class="visually-hidden"> evidence{ref}</span></a>' if can_edit else ""
    return mark_safe(f'<p class="answer-evidence">{summary}{add}</p>')  # noqa: S308 - every value is escaped
