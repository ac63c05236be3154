"""Reads of accounts data, always filtered by organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import AuditEvent, Invitation, Membership, Organisation, User


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organisation").order_by("organisation__name")


def organisation_members(organisation: Organisation) -> QuerySet[Membership]:
    return (
        Membership.objects.for_organisation(organisation)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def organisation_pending_invitations(organisation: Organisation) -> QuerySet[Invitation]:
    return (
        Invitation.objects.for_organisation(organisation)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def organisation_audit_events(organisation: Organisation, *, action_prefix: str = "") -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.for_organisation(organisation)
    if action_prefix:
        events = events.filter(action__startswith=action_prefix)
    return events.order_by("-created_at", "-id")
