"""Reads of accounts data, always filtered by organisation."""

from __future__ import annotations

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Organisation, Partner, PartnerGrant, User


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


def organisation_api_keys(organisation: Organisation) -> QuerySet[ApiKey]:
    """The organisation's own keys: usable ones first, then expired and revoked, newest first in each."""
    now = timezone.now()
    usable = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return (
        ApiKey.objects.filter(organisation=organisation)
        .select_related("created_by", "rotated_to")
        .annotate(retired=Case(When(usable, then=Value(0)), default=Value(1)))
        .order_by("retired", "-created_at", "-id")
    )


def organisation_partner_grants(organisation: Organisation) -> QuerySet[PartnerGrant]:
    """Every grant the organisation gave: standing ones first, then revoked ones, most recent first."""
    return (
        PartnerGrant.objects.for_organisation(organisation)
        .select_related("partner", "granted_by", "revoked_by")
        .order_by(F("revoked_at").desc(nulls_first=True), "-granted_at", "-id")
    )


def partners_to_grant(organisation: Organisation) -> QuerySet[Partner]:
    """Active partners the organisation has not already given access to."""
    standing = PartnerGrant.objects.filter(partner=OuterRef("pk"), organisation=organisation, revoked_at__isnull=True)
    return Partner.objects.filter(is_active=True).exclude(Exists(standing)).order_by("name", "id")
