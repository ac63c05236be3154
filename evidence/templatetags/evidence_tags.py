"""Template helpers for evidence: status badges, and the evidence sections other apps' pages include
(`{% control_evidence control %}`, `{% task_evidence control_ids %}`, `{% answer_evidence ... %}`)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from evidence import embeds
from evidence.models import EvidenceStatus, RunStatus

register = template.Library()

EVIDENCE_BADGES: dict[str, str] = {
    EvidenceStatus.DRAFT: "badge-muted",
    EvidenceStatus.SUBMITTED: "",
    EvidenceStatus.ACCEPTED: "badge-success",
    EvidenceStatus.REJECTED: "badge-danger",
    EvidenceStatus.EXPIRED: "badge-warning",
}
RUN_BADGES: dict[str, str] = {
    RunStatus.QUEUED: "badge-muted",
    RunStatus.RUNNING: "",
    RunStatus.SUCCEEDED: "badge-success",
    RunStatus.PARTIAL: "badge-warning",
    RunStatus.FAILED: "badge-danger",
}


@register.filter
def evidence_status_badge(status: str) -> str:
    return EVIDENCE_BADGES.get(status, "")


@register.filter
def run_status_badge(status: str) -> str:
    return RUN_BADGES.get(status, "")


@register.inclusion_tag("evidence/includes/for_control.html", takes_context=True)
def control_evidence(context: template.Context, control: Any) -> dict[str, Any]:
    """The control page's evidence section, for a host that would rather not touch its view."""
    request = context["request"]
    return {
        "control_evidence": embeds.control_evidence_context(
            request.membership.organisation, control, request.membership
        ),
        "request": request,
    }


@register.inclusion_tag("evidence/includes/for_task.html", takes_context=True)
def task_evidence(context: template.Context, control_ids: list[int]) -> dict[str, Any]:
    request = context["request"]
    return {
        "task_evidence": embeds.task_evidence_context(request.membership.organisation, control_ids, request.membership),
        "request": request,
    }


@register.simple_tag
def answer_evidence(counts: embeds.ControlCounts, control_id: int, can_edit: bool, control_ref: str = "") -> SafeString:
    """`{% answer_evidence evidence_counts control.pk can_edit control.ref %}` on an assessment row."""
    return embeds.answer_evidence_line(control_id, counts, can_edit=can_edit, control_ref=control_ref)
