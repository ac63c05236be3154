"""Your data, and deleting things for good.

- `account_data` (Your account, Your data tab): what Greenlight holds about the person signed in, a JSON
  download of all of it, and the way to delete their account. Personal, not an organisation's page: it
  works with or without an organisation.
- `account_delete`: what deleting the account does, and doing it after they type their email address and
  password.
- `settings_deletion`: an owner asks for the organisation to be deleted after the grace period (typing its
  name and their password), or cancels that. Owners only: admins and everyone else get 403.
"""

from __future__ import annotations

import json
from typing import Any

from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import erasure, personal_export
from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.forms_privacy import AccountDeleteForm, OrganisationDeleteForm
from accounts.models import Membership, User
from config.pages import render_page

TOO_MANY_TRIES = "Too many tries. Wait a minute, then try again."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # LoginRequiredMiddleware: always a person here


def _attempt_allowed(request: HttpRequest) -> bool:
    """Each password typed here counts against allauth's re-authentication limit, so a session left open
    cannot be used to guess the password."""
    return ratelimit.consume(request, action="reauthenticate", user=request.user)


# --- Your data --------------------------------------------------------------------------------------
@require_GET
def account_data(request: HttpRequest) -> HttpResponse:
    # The memberships come from the middleware's one query: this page adds none of its own.
    context: dict[str, Any] = {"memberships": request.memberships}  # type: ignore[attr-defined]
    return render_page(request, "accounts/account_data.html", context)


@require_GET
def account_data_export(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    body = json.dumps(personal_export.personal_data(user), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    name = f"greenlight-personal-data-{timezone.localdate():%Y-%m-%d}.json"
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    plan = erasure.account_deletion_plan(user)
    form = AccountDeleteForm(request.POST or None, user=user, sole_organisations=plan.sole_member)
    if request.method == "POST":
        if not _attempt_allowed(request):
            form.add_error(None, TOO_MANY_TRIES)
        elif form.is_valid():
            try:
                deleted = erasure.account_delete(
                    user=user,
                    delete_sole_organisations=form.cleaned_data.get("delete_sole_organisations", False),
                    actor=Actor.from_request(request),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                logout(request)
                messages.success(
                    request,
                    f"Your account ({deleted.email}) has been deleted. We have emailed you a confirmation.",
                )
                return redirect("account_login")
    context = {"plan": plan, "form": form, "grace_days": settings.ORGANISATION_DELETION_GRACE_DAYS}
    return render_page(request, "accounts/account_delete.html", context, status=400 if form.errors else 200)


# --- Deleting the organisation ------------------------------------------------------------------------
def _owner(request: HttpRequest) -> Membership:
    membership = require_membership(request)
    if not membership.is_owner:
        raise PermissionDenied(erasure.OWNERS_ONLY)
    return membership


@require_http_methods(["GET", "POST"])
@member_required()
def settings_deletion(request: HttpRequest) -> HttpResponse:
    organisation = _owner(request).organisation
    form = OrganisationDeleteForm(request.POST or None, user=_user(request), organisation=organisation)
    if request.method == "POST":
        if not _attempt_allowed(request):
            form.add_error(None, TOO_MANY_TRIES)
        elif form.is_valid():
            try:
                organisation = erasure.organisation_deletion_request(
                    organisation=organisation, actor=Actor.from_request(request)
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.warning(
                    request,
                    f"{organisation.name} will be deleted on {erasure.due_day(organisation)}. "
                    "You can cancel until then; owners and admins have been emailed.",
                )
                return redirect("settings_deletion")
    context = {
        "section": "deletion",
        "form": form,
        "organisation": organisation,
        "grace_days": settings.ORGANISATION_DELETION_GRACE_DAYS,
    }
    return render_page(request, "accounts/settings_deletion.html", context, status=400 if form.errors else 200)


@require_POST
@member_required()
def settings_deletion_cancel(request: HttpRequest) -> HttpResponse:
    organisation = _owner(request).organisation
    try:
        erasure.organisation_deletion_cancel(organisation=organisation, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Deletion cancelled: {organisation.name} stays, with everything in it.")
    return redirect("settings_deletion")
