"""The retention settings page: how long the organisation keeps conversations, AI request records, audit
events and report runs, and what tonight's run will delete. Owners and admins change it; members read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BoundField
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import retention
from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.forms_retention import RetentionForm
from accounts.models import Organisation
from accounts.retention import RetainedKind
from accounts.roles import Capability
from config.pages import render_page

TEMPLATE = "accounts/settings_retention.html"


@dataclass(frozen=True)
class Setting:
    kind: RetainedKind
    days: int
    period: str  # the days in words: "1 year"
    field: BoundField
    due: int
    due_text: str


def due_text(kind: RetainedKind, days: int, due: int) -> str:
    """What the next run will delete, in a sentence: "3 conversations with no activity for over 1 year will
    be deleted tonight"."""
    period = retention.in_words(days)
    if not due:
        return f"No {kind.plural} {kind.age} {period}: nothing will be deleted tonight."
    return f"{due:,} {kind.noun(due)} {kind.age} {period} will be deleted tonight."


def _settings(form: RetentionForm, organisation: Organisation, now: datetime) -> list[Setting]:
    due = retention.retention_preview(organisation, at=retention.next_run_after(now))
    rows = []
    for kind in retention.KINDS:
        days = getattr(organisation, kind.field)
        period = retention.in_words(days)
        rows.append(Setting(kind, days, period, form[kind.field], due[kind], due_text(kind, days, due[kind])))
    return rows


def _saved_message(changes: list[str], organisation: Organisation) -> str:
    """Saying so, and what the change will delete tonight: shortening a period can delete a lot."""
    due = retention.retention_preview(organisation, at=retention.next_run_after(timezone.now()))
    going = [f"{count:,} {kind.noun(count)}" for kind, count in due.items() if count]
    message = f"Retention saved: {'; '.join(changes)}."
    if going:
        message += f" Tonight's run will delete {', '.join(going)}."
    return message


@require_http_methods(["GET", "POST"])
@member_required()
def settings_retention(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    organisation = membership.organisation
    form = RetentionForm(request.POST or None, organisation=organisation)
    if request.method == "POST":
        require_membership(request, Capability.ADMINISTER)
        if form.is_valid():
            try:
                changes = retention.retention_settings_update(
                    organisation=organisation, actor=Actor.from_request(request), days=form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if changes:
                    messages.success(request, _saved_message(changes, organisation))
                else:
                    messages.info(request, "Nothing changed: the retention settings are as they were.")
                return redirect("settings_retention")
    context: dict[str, Any] = {
        "section": "retention",
        "form": form,
        "settings": _settings(form, organisation, timezone.now()),
        "next_run": retention.next_run_after(timezone.now()),
    }
    return render_page(request, TEMPLATE, context, status=400 if form.errors else 200)
