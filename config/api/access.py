"""Which organisation a request reaches, and with which scopes.

The organisation is named in the URL (`/api/v1/organisations/{slug}/...`). It is reachable by:
- a member's browser session: the scopes of their role;
- the organisation's own key: the key's scopes;
- a partner's key: the key's scopes narrowed to those the organisation granted the partner, for as
  long as the grant stands.
Anything else answers 404, exactly as a missing organisation does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from accounts.audit import Actor, KeyAccess, client_ip
from accounts.models import ApiKey, Membership, Organisation, PartnerGrant, User
from accounts.scopes import Scope, capabilities_for_scopes, parse_scopes, scopes_for_role


@dataclass(frozen=True)
class OrganisationAccess:
    organisation: Organisation
    scopes: frozenset[Scope]
    actor: Actor
    membership: Membership | None = None  # for session calls
    grant: PartnerGrant | None = None  # for partner keys


def key_label(key: ApiKey) -> str:
    holder = f"{key.partner.name} " if key.partner_id else ""  # type: ignore[union-attr]
    return f"{holder}API key {key.name} ({key.prefix})"


def principal_id(request: Request) -> str:
    """Who is calling, for throttling and idempotency: the key, else the signed-in user."""
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def organisation_access(request: Request, slug: str) -> OrganisationAccess:
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is None:
        memberships = getattr(request._request, "memberships", [])
        membership = next((m for m in memberships if m.organisation.slug == slug), None)
        if membership is None:
            raise NotFound("No such organisation.")
        return OrganisationAccess(
            organisation=membership.organisation,
            scopes=scopes_for_role(membership.role),
            actor=Actor.from_request(request._request),
            membership=membership,
        )
    grant: PartnerGrant | None = None
    if key.organisation_id:
        if key.organisation.slug != slug:  # type: ignore[union-attr]
            raise NotFound("No such organisation.")
        organisation: Organisation = key.organisation  # type: ignore[assignment]
        scopes = parse_scopes(key.scopes)
    else:
        grant = (
            PartnerGrant.objects.active()
            .select_related("organisation")
            .filter(partner_id=key.partner_id, organisation__slug=slug)
            .first()
        )
        if grant is None:
            raise NotFound("No such organisation.")
        organisation = grant.organisation
        scopes = parse_scopes(key.scopes) & parse_scopes(grant.scopes)
    actor = Actor(
        user=None,
        ip_address=client_ip(request._request),
        key=KeyAccess(
            key_id=key.pk,
            label=key_label(key),
            organisation_id=organisation.pk,
            capabilities=capabilities_for_scopes(scopes),
        ),
    )
    return OrganisationAccess(organisation=organisation, scopes=scopes, actor=actor, grant=grant)


def organisations_reachable(request: Request) -> QuerySet[Organisation]:
    """Every organisation the caller may name in a URL."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is None:
        if not isinstance(request.user, User):  # IsKeyOrSignedIn lets no one else this far
            return Organisation.objects.none()
        return Organisation.objects.filter(
            pk__in=Membership.objects.filter(user=request.user).values("organisation_id")
        )
    if key.organisation_id:
        return Organisation.objects.filter(pk=key.organisation_id)
    return Organisation.objects.filter(
        pk__in=PartnerGrant.objects.active().filter(partner_id=key.partner_id).values("organisation_id")
    )
