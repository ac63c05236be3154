"""How the isolation test fills URL arguments that are not plain object ids."""

from __future__ import annotations

from accounts.models import Invitation, Organisation, PartnerGrant
from accounts.services import invitation_token


def _invitation_token(organisation: Organisation) -> str:
    return invitation_token(Invitation.objects.filter(organisation=organisation).earliest("pk"))


def _organisation_id(organisation: Organisation) -> int:
    # organisation_open takes the organisation itself; the walked user is not a member, so it must 404.
    return organisation.pk


def _api_key_id(organisation: Organisation) -> int:
    # Keys may belong to a partner instead, so ApiKey is not a tenant model; this one is the organisation's.
    from accounts.tests.factories import ApiKeyFactory

    return ApiKeyFactory(organisation=organisation).pk


def _partner_id(organisation: Organisation) -> int:
    # Partners belong to Greenlight (their admin pages are staff-only); this one was granted access.
    return PartnerGrant.objects.filter(organisation=organisation).earliest("pk").partner_id


def _organisation_slug(organisation: Organisation) -> str:
    # API URLs name the organisation by slug; the walked user is not a member, so they must 404.
    return organisation.slug


KWARG_RESOLVERS = {
    "token": _invitation_token,
    "organisation_id": _organisation_id,
    "organisation_slug": _organisation_slug,
    "apikey_id": _api_key_id,
    "partner_id": _partner_id,
}
