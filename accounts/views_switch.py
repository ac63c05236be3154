"""Opening a page of a given organisation from outside the app, such as a link in an email.

A person in several organisations has one current organisation in the session, and tenant pages only look
within it; so a link about another organisation would answer 404. `/go/<organisation_id>/?next=/path` first
makes that organisation current, the way the switcher does, then goes to the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from accounts.middleware import organisation_switch_to


@require_GET
def organisation_open(request: HttpRequest, organisation_id: int) -> HttpResponse:
    previous = request.organisation  # type: ignore[attr-defined]
    if not organisation_switch_to(request, organisation_id):
        # The same answer whether the organisation exists or not: a link reveals nothing to outsiders.
        raise Http404("No such organisation.")
    if previous is None or previous.pk != organisation_id:
        messages.info(request, f"Switched to {request.organisation}.")  # type: ignore[attr-defined]
    target = request.GET.get("next", "")
    # Only a path on this site: the link must not become an open redirect.
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("dashboard")
    return redirect(target)
