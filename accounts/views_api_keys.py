"""Settings pages for API access: the organisation's own keys, and the partners it lets in.

Both pages are for owners and admins. A new key's secret exists only in the response that creates it
(or rotates to it): it is never put in the session or a message, and that response is not cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services_api
from accounts.access import get_api_key_for, get_partner_grant_for, member_required, require_membership
from accounts.audit import Actor
from accounts.forms_api_keys import ApiKeyForm, GrantScopesForm, PartnerGrantForm
from accounts.models import ApiKey
from accounts.roles import Capability
from accounts.services_api import ROTATION_GRACE, IssuedKey, stops_at
from config.pages import fragment_status, render_page, wants_fragment

KEYS_TEMPLATE = "accounts/settings_api_keys.html"
PARTNERS_TEMPLATE = "accounts/settings_partners.html"


def _first_error(error: ValidationError) -> str:
    return error.messages[0] if error.messages else "That could not be done."


# --- API keys -------------------------------------------------------------------------------------
def _keys_context(
    request: HttpRequest,
    *,
    form: ApiKeyForm | None = None,
    issued: IssuedKey | None = None,
    replaced: ApiKey | None = None,
) -> dict[str, Any]:
    organisation = require_membership(request).organisation
    keys = list(selectors.organisation_api_keys(organisation))
    return {
        "section": "api_keys",
        "active_keys": [key for key in keys if not key.retired],  # type: ignore[attr-defined]
        "retired_keys": [key for key in keys if key.retired],  # type: ignore[attr-defined]
        "form": form or ApiKeyForm(),
        "issued": issued,
        "replaced": replaced,
        "replaced_until": stops_at(replaced) if replaced else "",
        "grace_hours": int(ROTATION_GRACE.total_seconds() // 3600),
        "example_url": request.build_absolute_uri(f"/api/v1/organisations/{organisation.slug}/readiness/"),
        "docs_url": reverse("api_docs"),
    }


def _render_keys(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = render_page(request, KEYS_TEMPLATE, context, fragment="api_keys", status=status)
    if context.get("issued"):
        # The one response that carries a secret: no browser or proxy may keep a copy.
        add_never_cache_headers(response)
    return response


def _keys_updated(request: HttpRequest) -> HttpResponse:
    if wants_fragment(request):
        return _render_keys(request, _keys_context(request))
    return redirect("settings_api_keys")


@require_GET
@member_required(Capability.ADMINISTER)
def settings_api_keys(request: HttpRequest) -> HttpResponse:
    return _render_keys(request, _keys_context(request))


@require_POST
@member_required(Capability.ADMINISTER)
def api_key_create(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            issued = services_api.api_key_create(
                organisation=organisation,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.cleaned_data["expires_at"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form.add_service_error(error, fields={"expires_at": "expires_on"})
        else:
            messages.success(request, f"API key {issued.key.name} created.")
            # Rendered, not redirected: the secret must not outlive this response.
            return _render_keys(request, _keys_context(request, issued=issued))
    return _render_keys(request, _keys_context(request, form=form), status=fragment_status(request, 400))


@require_POST
@member_required(Capability.ADMINISTER)
def api_key_rotate(request: HttpRequest, apikey_id: int) -> HttpResponse:
    key = get_api_key_for(request, apikey_id, write=True)
    try:
        issued = services_api.api_key_rotate(key=key, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, _first_error(error))
        return _keys_updated(request)
    key.refresh_from_db(fields=["expires_at"])
    messages.success(request, f"API key {key.name} rotated.")
    return _render_keys(request, _keys_context(request, issued=issued, replaced=key))


@require_POST
@member_required(Capability.ADMINISTER)
def api_key_revoke(request: HttpRequest, apikey_id: int) -> HttpResponse:
    key = get_api_key_for(request, apikey_id, write=True)
    services_api.api_key_revoke(key=key, actor=Actor.from_request(request))
    messages.success(request, f"API key {key.name} revoked. Anything still using it is refused from now on.")
    return _keys_updated(request)


# --- Partners -------------------------------------------------------------------------------------
def _partners_context(
    request: HttpRequest,
    *,
    form: PartnerGrantForm | None = None,
    changing: GrantScopesForm | None = None,
    changing_id: int | None = None,
) -> dict[str, Any]:
    organisation = require_membership(request).organisation
    grants = list(selectors.organisation_partner_grants(organisation))
    active = [grant for grant in grants if grant.is_active]
    for grant in active:
        # Each row's "Change scopes" form; the one just refused keeps what was sent, and its errors.
        grant.scopes_form = (  # type: ignore[attr-defined]
            changing
            if changing is not None and grant.pk == changing_id
            else GrantScopesForm(initial={"scopes": grant.scopes}, auto_id=f"id_grant{grant.pk}_%s")
        )
    return {
        "section": "partners",
        "form": form or PartnerGrantForm(partners=selectors.partners_to_grant(organisation)),
        "active_grants": active,
        "past_grants": [grant for grant in grants if not grant.is_active],
        "changing_id": changing_id,
        "docs_url": reverse("api_docs"),
    }


def _render_partners(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    return render_page(request, PARTNERS_TEMPLATE, context, fragment="partners", status=status)


def _partners_updated(request: HttpRequest) -> HttpResponse:
    if wants_fragment(request):
        return _render_partners(request, _partners_context(request))
    return redirect("settings_partners")


@require_GET
@member_required(Capability.ADMINISTER)
def settings_partners(request: HttpRequest) -> HttpResponse:
    return _render_partners(request, _partners_context(request))


@require_POST
@member_required(Capability.ADMINISTER)
def partner_grant_create(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = PartnerGrantForm(request.POST, partners=selectors.partners_to_grant(organisation))
    if form.is_valid():
        partner = form.cleaned_data["partner"]
        try:
            services_api.partner_grant_create(
                organisation=organisation,
                partner=partner,
                scopes=form.cleaned_data["scopes"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{partner.name} can now use the API for {organisation.name}.")
            return _partners_updated(request)
    return _render_partners(request, _partners_context(request, form=form), status=fragment_status(request, 400))


@require_POST
@member_required(Capability.ADMINISTER)
def partner_grant_update(request: HttpRequest, partnergrant_id: int) -> HttpResponse:
    grant = get_partner_grant_for(request, partnergrant_id, write=True)
    if not grant.is_active:
        messages.error(request, f"{grant.partner.name}'s access was revoked. Give access again to choose scopes.")
        return _partners_updated(request)
    form = GrantScopesForm(request.POST, auto_id=f"id_grant{grant.pk}_%s")
    if form.is_valid():
        try:
            services_api.partner_grant_create(
                organisation=grant.organisation,
                partner=grant.partner,
                scopes=form.cleaned_data["scopes"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{grant.partner.name}'s scopes saved.")
            return _partners_updated(request)
    context = _partners_context(request, changing=form, changing_id=grant.pk)
    return _render_partners(request, context, status=fragment_status(request, 400))


@require_POST
@member_required(Capability.ADMINISTER)
def partner_grant_revoke(request: HttpRequest, partnergrant_id: int) -> HttpResponse:
    grant = get_partner_grant_for(request, partnergrant_id, write=True)
    services_api.partner_grant_revoke(grant=grant, actor=Actor.from_request(request))
    messages.success(
        request, f"{grant.partner.name} no longer has access. Their keys stop working for {grant.organisation.name}."
    )
    return _partners_updated(request)
