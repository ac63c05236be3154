"""Small helpers for the policy studio's templates."""

from __future__ import annotations

from django import template

from policies.models import PolicyStatus

register = template.Library()

STATUS_BADGES: dict[str, str] = {
    PolicyStatus.DRAFT: "badge-muted",
    PolicyStatus.IN_REVIEW: "badge-warning",
    PolicyStatus.APPROVED: "badge-success",
    PolicyStatus.PUBLISHED: "badge-success",
    PolicyStatus.RETIRED: "",
}


@register.filter
def status_badge(status: str) -> str:
    """The badge class for a policy status."""
    return STATUS_BADGES.get(status, "")
