"""Every state-changing request from a browser needs the CSRF token.

Signs in as an organisation's owner with a client that enforces CSRF checks, and sends POST, PUT, PATCH
and DELETE without a token to every URL the project has (ours, django-allauth's, the admin's, and the
API's, which accept the same session through DRF's SessionAuthentication). Each must answer 403 and
change nothing of the organisation.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Organisation
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.isolation import (
    THIRD_PARTY_KWARGS,
    Route,
    app_kwarg_resolvers,
    build_tenant_data,
    discover_routes,
    organisation_rows,
    tenant_model_by_kwarg,
)

pytestmark = pytest.mark.django_db

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Views that check no CSRF token, and why that is safe: they answer the same to everyone and change nothing.
NO_CSRF_NEEDED = {
    "api_not_found": "the problem+json 404 for unknown API URLs",
    "api_schema": "the OpenAPI schema: no authentication at all, GET only (405 otherwise)",
}
# Enough fields that a view which skipped the CSRF check would change something.
PAYLOAD = {
    "name": "Renamed without a token",
    "title": "Written without a token",
    "role": Role.VIEWER,
    "email": "forged@example.com",
    "question": "Asked without a token?",
    "status": "done",
    "intent": "name",
}


def _url(route: Route, organisation: Organisation) -> str:
    by_kwarg = tenant_model_by_kwarg()
    resolvers = app_kwarg_resolvers()
    kwargs: dict[str, object] = {}
    for name in route.kwargs:
        if name in by_kwarg:
            kwargs[name] = by_kwarg[name]._default_manager.filter(organisation=organisation).earliest("pk").pk
        elif name in resolvers:
            kwargs[name] = resolvers[name](organisation)
        elif not route.is_ours and name in THIRD_PARTY_KWARGS:
            kwargs[name] = THIRD_PARTY_KWARGS[name]
        else:
            pytest.fail(f"URL {route.name!r} takes {name!r}: add a resolver to <app>/tests/isolation.py.")
    return reverse(route.name, kwargs=kwargs)


@pytest.fixture
def owner_world():
    organisation = OrganisationFactory(name="Token Checkers Ltd", slug="token-checkers")
    owner = MembershipFactory(organisation=organisation, role=Role.OWNER, user=UserFactory(is_staff=True)).user
    build_tenant_data(organisation, per_model=1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return organisation, client


def test_no_state_changing_request_without_a_csrf_token_is_accepted(owner_world):
    organisation, client = owner_world
    before = organisation_rows(organisation)
    body = urlencode(PAYLOAD)

    accepted = []
    for route in discover_routes():
        url = _url(route, organisation)
        for method in UNSAFE_METHODS:
            response = client.generic(method, url, body, content_type="application/x-www-form-urlencoded")
            refused = response.status_code in ((403, 404, 405) if route.name in NO_CSRF_NEEDED else (403,))
            if not refused:
                accepted.append(f"{method} {url} ({route.name}) -> {response.status_code}")
            if url.startswith("/api/v1/") and response.status_code == 403:
                assert response["Content-Type"].startswith("application/problem+json"), f"{method} {url}"

    assert not accepted, "Accepted without a CSRF token:\n" + "\n".join(accepted)
    assert organisation_rows(organisation) == before, "a request without a CSRF token changed data"
    assert client.session.get("_auth_user_id"), "a request without a CSRF token signed the owner out"


def test_the_same_request_with_the_token_is_accepted(owner_world):
    """The sweep's 403s come from the missing token, not from the owner lacking the right."""
    organisation, client = owner_world
    url = reverse("settings_organisation")
    for headers in ({}, {"HTTP_X_CSRFTOKEN": "wrong-token-of-thirty-two-chars!"}):
        assert client.post(url, {"intent": "name", "name": "Renamed"}, **headers).status_code == 403
    client.get(url)
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"intent": "name", "name": "Renamed with a token"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.name == "Renamed with a token"


def test_the_api_refuses_a_session_without_the_token_but_not_a_key(owner_world, api_for):
    organisation, client = owner_world
    url = reverse("api_task_list", kwargs={"organisation_slug": organisation.slug})
    response = client.post(url, {"title": "Forged"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # A key is not a cookie a browser sends by itself, so an API key needs no token.
    assert api_for(organisation).get(url).status_code == 200
