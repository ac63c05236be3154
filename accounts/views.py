from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors, services
from accounts.access import get_invitation_for, get_membership_for, member_required, require_membership
from accounts.audit import Actor
from accounts.forms import AuditFilterForm, InvitationForm, OrganisationForm, RoleForm, role_choices
from accounts.forms_logo import LogoForm
from accounts.logos import CONTENT_TYPES, organisation_logo_remove, organisation_logo_replace
from accounts.middleware import SESSION_KEY, organisation_switch_to
from accounts.roles import ROLE_DESCRIPTIONS, Capability, Role
from config.pages import render_page, wants_fragment

AUDIT_PAGE_SIZE = 25


def _first_error(error: ValidationError) -> str:
    return error.messages[0] if error.messages else "That could not be done."


def _redirect(request: HttpRequest, to: str) -> HttpResponse:
    if wants_fragment(request):
        return HttpResponseClientRedirect(to)
    return redirect(to)


# --- Organisations --------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organisation = services.organisation_create(
            name=form.cleaned_data["name"],
            owner=request.user,  # type: ignore[arg-type]
            actor=Actor.from_request(request),
        )
        request.memberships = list(selectors.memberships_for_user(request.user))  # type: ignore[attr-defined,arg-type]
        organisation_switch_to(request, organisation.pk)
        messages.success(request, f"{organisation.name} is ready. Invite your team when you are.")
        return redirect("dashboard")
    return render_page(request, "accounts/organisation_create.html", {"form": form})


@require_POST
def organisation_switch(request: HttpRequest) -> HttpResponse:
    try:
        organisation_id = int(request.POST.get("organisation", ""))
    except ValueError:
        organisation_id = 0
    if not organisation_switch_to(request, organisation_id):
        messages.error(request, "You are not a member of that organisation.")
        return _redirect(request, "/")
    messages.info(request, f"Switched to {request.organisation}.")  # type: ignore[attr-defined]
    return _redirect(request, "/")


@require_http_methods(["GET", "POST"])
@member_required()
def settings_organisation(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    organisation = membership.organisation
    # One page, three forms: the submit button's `intent` says which; the name form is the default.
    intent = request.POST.get("intent", "name") if request.method == "POST" else ""
    form = OrganisationForm(request.POST if intent == "name" else None, initial={"name": organisation.name})
    logo_form = LogoForm(request.POST, request.FILES) if intent == "logo" else LogoForm()
    if request.method == "POST":
        require_membership(request, Capability.ADMINISTER)
        actor = Actor.from_request(request)
        if intent == "logo-remove":
            organisation_logo_remove(organisation=organisation, actor=actor)
            messages.success(request, "Logo removed.")
            return _redirect(request, request.path)
        if intent == "logo" and logo_form.is_valid():
            try:
                organisation_logo_replace(organisation=organisation, logo=logo_form.cleaned_data["logo"], actor=actor)
            except ValidationError as error:
                logo_form.add_error("logo", error)
            else:
                messages.success(request, "Logo saved. It will appear on the cover of your next report.")
                return _redirect(request, request.path)
        if intent == "name" and form.is_valid():
            services.organisation_rename(organisation=organisation, name=form.cleaned_data["name"], actor=actor)
            messages.success(request, "Organisation name saved.")
            return _redirect(request, request.path)
    context = {"form": form, "logo_form": logo_form, "section": "organisation"}
    return render_page(request, "accounts/settings_organisation.html", context)


# A streamed file is not an HttpResponse, which is all `member_required` is typed to wrap.
@require_GET
@member_required()
def organisation_logo(request: HttpRequest) -> HttpResponseBase:
    """The current organisation's logo, for its own members only: the session decides whose it is."""
    name = require_membership(request).organisation.logo.name
    if not name:
        raise Http404("This organisation has no logo.")
    try:
        handle = default_storage.open(name, "rb")
    except OSError as error:  # the row names a file that has gone
        raise Http404("The logo file is missing.") from error
    extension = name.rsplit(".", 1)[-1]
    response = FileResponse(handle, content_type=CONTENT_TYPES.get(extension, "application/octet-stream"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Members and invitations ----------------------------------------------------------------------
def _members_context(request: HttpRequest, invitation_form: InvitationForm | None = None) -> dict[str, object]:
    membership = require_membership(request)
    organisation = membership.organisation
    return {
        "section": "members",
        "members": selectors.organisation_members(organisation),
        "invitations": selectors.organisation_pending_invitations(organisation),
        "invitation_form": invitation_form or InvitationForm(include_owner=membership.is_owner),
        "role_choices": role_choices(include_owner=membership.is_owner),
        "owner_role_choices": role_choices(include_owner=True),
        "role_descriptions": {role.label: text for role, text in ROLE_DESCRIPTIONS.items()},
    }


@require_GET
@member_required()
def settings_members(request: HttpRequest) -> HttpResponse:
    return render_page(request, "accounts/settings_members.html", _members_context(request))


@require_POST
@member_required(Capability.ADMINISTER)
def membership_role_update(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = get_membership_for(request, membership_id, write=True)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(
                membership=target,
                role=form.cleaned_data["role"],
                acting=require_membership(request),
                actor=Actor.from_request(request),
            )
            messages.success(request, f"{target.user.display_name} is now {target.get_role_display()}.")
        except ValidationError as error:
            messages.error(request, _first_error(error))
    else:
        messages.error(request, "Choose a valid role.")
    if wants_fragment(request):
        return render_page(request, "accounts/settings_members.html", _members_context(request), fragment="members")
    return redirect("settings_members")


@require_POST
@member_required(Capability.ADMINISTER)
def membership_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = get_membership_for(request, membership_id, write=True)
    acting = require_membership(request)
    if target.pk == acting.pk:
        messages.error(request, "To leave the organisation yourself, use Leave organisation.")
        return _redirect(request, reverse("settings_members"))
    try:
        services.membership_remove(membership=target, acting=acting, actor=Actor.from_request(request))
        messages.success(request, f"{target.user.display_name} no longer has access.")
    except ValidationError as error:
        messages.error(request, _first_error(error))
    if wants_fragment(request):
        return render_page(request, "accounts/settings_members.html", _members_context(request), fragment="members")
    return redirect("settings_members")


@require_POST
@member_required()
def membership_leave(request: HttpRequest) -> HttpResponse:
    acting = require_membership(request)
    name = acting.organisation.name
    try:
        services.membership_remove(membership=acting, acting=acting, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, _first_error(error))
        return _redirect(request, reverse("settings_members"))
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"You have left {name}.")
    return _redirect(request, "/")


@require_POST
@member_required(Capability.ADMINISTER)
def invitation_create(request: HttpRequest) -> HttpResponse:
    acting = require_membership(request)
    form = InvitationForm(request.POST, include_owner=acting.is_owner)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                organisation=acting.organisation,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                acting=acting,
                actor=Actor.from_request(request),
            )
            messages.success(request, f"Invitation sent to {invitation.email}. The link works for 7 days.")
            form = InvitationForm(include_owner=acting.is_owner)
        except ValidationError as error:
            form.add_error("email", error)
    if form.is_bound and form.errors and not wants_fragment(request):
        return render_page(request, "accounts/settings_members.html", _members_context(request, form))
    if wants_fragment(request):
        return render_page(
            request, "accounts/settings_members.html", _members_context(request, form), fragment="invitations"
        )
    return redirect("settings_members")


@require_POST
@member_required(Capability.ADMINISTER)
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation_for(request, invitation_id, write=True)
    try:
        services.invitation_resend(invitation=invitation, actor=Actor.from_request(request))
        messages.success(request, f"Invitation sent again to {invitation.email}.")
    except ValidationError as error:
        messages.error(request, _first_error(error))
    if wants_fragment(request):
        return render_page(request, "accounts/settings_members.html", _members_context(request), fragment="invitations")
    return redirect("settings_members")


@require_POST
@member_required(Capability.ADMINISTER)
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation_for(request, invitation_id, write=True)
    try:
        services.invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
        messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    except ValidationError as error:
        messages.error(request, _first_error(error))
    if wants_fragment(request):
        return render_page(request, "accounts/settings_members.html", _members_context(request), fragment="invitations")
    return redirect("settings_members")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_from_token(token)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(
                token=token,
                user=request.user,  # type: ignore[arg-type]
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            messages.error(request, _first_error(error))
            return redirect(request.path)
        request.memberships = list(selectors.memberships_for_user(request.user))  # type: ignore[attr-defined,arg-type]
        organisation_switch_to(request, membership.organisation_id)
        messages.success(request, f"Welcome to {membership.organisation.name}.")
        return redirect("dashboard")
    # Only the addressee sees whose invitation it is; anyone else learns nothing about the organisation.
    addressed_to_user = invitation is not None and invitation.email.lower() == request.user.email.lower()  # type: ignore[union-attr]
    return render_page(
        request,
        "accounts/invitation_accept.html",
        {"invitation": invitation if addressed_to_user else None, "link_valid": invitation is not None},
    )


# --- Audit log ------------------------------------------------------------------------------------
@require_GET
@member_required(Capability.ADMINISTER)
def audit_log(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = AuditFilterForm(request.GET or None)
    action_prefix = form.cleaned_data["action"] if form.is_valid() else ""
    page = Paginator(
        selectors.organisation_audit_events(organisation, action_prefix=action_prefix), AUDIT_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render_page(
        request,
        "accounts/audit_log.html",
        {"section": "audit", "form": form, "page": page, "roles": Role},
        fragment="events",
    )
