"""Resolves `request.organisation` and `request.membership`, in one place, once per request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts import selectors

SESSION_KEY = "organisation_id"


class OrganisationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.memberships = []  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.organisation = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            # One query: the switcher needs every membership anyway, and the current one is among them.
            memberships = list(selectors.memberships_for_user(request.user))  # type: ignore[arg-type]
            chosen = request.session.get(SESSION_KEY)
            current = next((m for m in memberships if m.organisation_id == chosen), None)
            if current is None and memberships:
                current = memberships[0]
                request.session[SESSION_KEY] = current.organisation_id
            request.memberships = memberships  # type: ignore[attr-defined]
            request.membership = current  # type: ignore[attr-defined]
            request.organisation = current.organisation if current else None  # type: ignore[attr-defined]
        return self.get_response(request)


def organisation_switch_to(request: HttpRequest, organisation_id: int) -> bool:
    """Make one of the user's own organisations current; refuses any other."""
    for membership in request.memberships:  # type: ignore[attr-defined]
        if membership.organisation_id == organisation_id:
            request.session[SESSION_KEY] = organisation_id
            request.membership = membership  # type: ignore[attr-defined]
            request.organisation = membership.organisation  # type: ignore[attr-defined]
            return True
    return False
