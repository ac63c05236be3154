"""Fetching tenant objects for a request: the only way views and the API reach them.

`get_<thing>_for(request, pk)` returns the object if it belongs to the request's organisation,
raises Http404 if it does not (another organisation's object looks exactly like a missing one),
and PermissionDenied if the user's role lacks the capability the action needs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from accounts.audit import Actor
from accounts.models import ApiKey, Invitation, Membership, Organisation, PartnerGrant, WebhookDelivery, WebhookEndpoint
from accounts.roles import Capability

View = Callable[..., HttpResponseBase]


def require_membership(request: HttpRequest, capability: Capability = Capability.VIEW) -> Membership:
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None:
        raise Http404("You are not a member of an organisation.")
    if not membership.can(capability):
        raise PermissionDenied(f"Your role cannot {capability} here.")
    return membership


def require_actor(organisation: Organisation, actor: Actor, capability: Capability, *, what: str) -> None:
    """Refuse an actor whose role (or, for an API key, whose scopes) may not `capability` `what` in the
    organisation.

    Services call it as well as views checking the request, so a write is refused whichever way it comes.
    """
    if actor.key is not None:
        if actor.key.organisation_id != organisation.pk or capability not in actor.key.capabilities:
            raise PermissionDenied(f"This API key cannot {capability} {what}.")
        return
    membership = Membership.objects.filter(organisation=organisation, user=actor.user).first() if actor.user else None
    if membership is None or not membership.can(capability):
        raise PermissionDenied(f"Your role cannot {capability} {what}.")


def current_organisation(request: HttpRequest) -> Organisation:
    return require_membership(request).organisation


def get_tenant_object_or_404[M: Model](
    request: HttpRequest, queryset: QuerySet[M], pk: Any, *, capability: Capability = Capability.VIEW
) -> M:
    membership = require_membership(request)
    try:
        obj = queryset.filter(organisation_id=membership.organisation_id).get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404(f"No such {queryset.model._meta.verbose_name}.") from None
    # Existence is settled before permission, so a 403 never confirms another organisation's object.
    if not membership.can(capability):
        raise PermissionDenied(f"Your role cannot {capability} this.")
    return obj


def member_required(capability: Capability = Capability.VIEW) -> Callable[[View], View]:
    """A page for members of the current organisation; people without one are sent to create one."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if getattr(request, "membership", None) is None:
                return redirect("organisation_create")
            require_membership(request, capability)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def get_membership_for(request: HttpRequest, pk: Any, *, write: bool = False) -> Membership:
    return get_tenant_object_or_404(
        request,
        Membership.objects.select_related("user", "organisation"),
        pk,
        capability=Capability.ADMINISTER if write else Capability.VIEW,
    )


def get_invitation_for(request: HttpRequest, pk: Any, *, write: bool = False) -> Invitation:
    return get_tenant_object_or_404(
        request,
        Invitation.objects.select_related("organisation"),
        pk,
        capability=Capability.ADMINISTER if write else Capability.VIEW,
    )


# API keys and partner grants are administration whichever way they are touched: reading them shows
# who can reach the organisation's data, so `write` does not lower the bar.
def get_api_key_for(request: HttpRequest, pk: Any, *, write: bool = False) -> ApiKey:
    """One of the organisation's own keys (never a partner's: those have no organisation)."""
    return get_tenant_object_or_404(
        request, ApiKey.objects.select_related("organisation"), pk, capability=Capability.ADMINISTER
    )


def get_partner_grant_for(request: HttpRequest, pk: Any, *, write: bool = False) -> PartnerGrant:
    return get_tenant_object_or_404(
        request, PartnerGrant.objects.select_related("organisation", "partner"), pk, capability=Capability.ADMINISTER
    )


# Webhooks too: an endpoint's address and delivery log show where the organisation's data is sent.
def get_webhook_endpoint_for(request: HttpRequest, pk: Any, *, write: bool = False) -> WebhookEndpoint:
    return get_tenant_object_or_404(
        request, WebhookEndpoint.objects.select_related("organisation", "partner"), pk, capability=Capability.ADMINISTER
    )


def get_webhook_delivery_for(request: HttpRequest, pk: Any, *, write: bool = False) -> WebhookDelivery:
    return get_tenant_object_or_404(
        request,
        WebhookDelivery.objects.select_related("organisation", "endpoint__organisation"),
        pk,
        capability=Capability.ADMINISTER,
    )
