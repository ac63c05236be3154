"""The sub-processors page: who outside Greenlight receives the organisation's data in this installation,
read from the live configuration on every request. Every member can read it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts import subprocessors
from accounts.access import member_required, require_membership
from config.pages import render_page


@require_GET
@member_required()
def settings_subprocessors(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    disclosure = subprocessors.disclosure(organisation)
    context = {
        "section": "subprocessors",
        "disclosure": disclosure,
        "redaction": subprocessors.redaction_sentence(disclosure.redacted),
    }
    return render_page(request, "accounts/settings_subprocessors.html", context)
