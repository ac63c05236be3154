"""Every organisation API operation needs its scope, and a key holding just that scope is let through.

Walks every organisation route the URL configuration has and each method in its view's `scopes`, so
an endpoint added later is covered without editing this file. Also: browser sessions keep Django's
CSRF protection, and a viewer's session may read but not write.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.scopes import ALL_SCOPES, Scope
from tests.api_routes import (
    UNSCOPED_OPERATIONS,
    ApiRoute,
    example_for,
    organisation_routes,
    refuse_network,
    request_examples,
)
from tests.isolation import build_tenant_data

pytestmark = pytest.mark.django_db

MISSING_SCOPE = re.compile(r"needs the \S+ scope")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSRF_SECRET = "h6CsrfSecretForTheseTestsOnly000"  # 32 letters and digits: a well-formed CSRF secret


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": None}}


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    refuse_network(monkeypatch)


@pytest.fixture
def routes(personas) -> list[ApiRoute]:
    build_tenant_data(personas.organisation)
    return organisation_routes(personas.organisation)


def _scoped(route: ApiRoute) -> list[tuple[str, Scope]]:
    return [(method, scope) for method, scope in route.operations.items() if scope is not None]


def _call(client: APIClient, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    if method in ("GET", "DELETE"):
        return getattr(client, method.lower())(url)
    return getattr(client, method.lower())(url, body or {}, format="json")


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail", ""))
    except ValueError:
        return ""


def test_every_organisation_operation_names_the_scope_it_needs(routes):
    problems = [
        f"{method} {route.name} ({route.view_class.__name__}) has no scope in `scopes`"
        for route in routes
        for method, scope in route.operations.items()
        if scope is None and (route.name, method) not in UNSCOPED_OPERATIONS
    ]
    assert not problems, "\n".join(problems)


def test_a_key_without_the_operations_scope_is_refused_naming_it(personas, routes, api_for):
    failures = []
    for route in routes:
        url = route.url(personas.organisation)
        for method, scope in _scoped(route):
            client = api_for(personas.organisation, scopes=ALL_SCOPES - {scope})
            response = _call(client, method, url)
            where = f"{method} {url} without {scope}"
            if response.status_code != 403:
                failures.append(f"{where}: {response.status_code}, not 403")
            elif str(scope) not in _detail(response):
                failures.append(f"{where}: 403 whose detail does not name the scope: {_detail(response)!r}")
            elif response["Content-Type"] != "application/problem+json":
                failures.append(f"{where}: 403 as {response['Content-Type']}")
    assert not failures, "\n".join(failures)


def test_a_key_with_only_the_operations_scope_is_not_refused_for_scope(personas, routes, api_for):
    failures = []
    for route in routes:
        url = route.url(personas.organisation)
        for method, scope in _scoped(route):
            client = api_for(personas.organisation, scopes=[scope])
            response = _call(client, method, url)
            where = f"{method} {url} with only {scope}"
            if response.status_code == 403 and MISSING_SCOPE.search(_detail(response)):
                failures.append(f"{where}: refused: {_detail(response)!r}")
            elif response.status_code >= 500:
                failures.append(f"{where}: {response.status_code}")
    assert not failures, "\n".join(failures)


# --- Browser sessions -------------------------------------------------------------------------------
def _session(user: User, *, csrf: bool) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    if csrf:
        client.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF_SECRET
        client.credentials(HTTP_X_CSRFTOKEN=CSRF_SECRET)
    return client


def _write_operations(routes: list[ApiRoute]) -> list[tuple[ApiRoute, str, Scope]]:
    """Operations that change something: an unsafe method, or a write scope."""
    return [
        (route, method, scope)
        for route in routes
        for method, scope in _scoped(route)
        if scope.writes and method in UNSAFE_METHODS
    ]


def test_a_session_write_without_a_csrf_token_is_refused(personas, routes):
    writes = _write_operations(routes)
    if not writes:
        pytest.skip("No organisation API operation writes yet.")
    for user in (personas.viewer, personas.member):
        client = _session(user, csrf=False)
        for route, method, _scope in writes:
            response = _call(client, method, route.url(personas.organisation))
            assert response.status_code == 403, f"{method} {route.name} as {user.email}: {response.status_code}"
            assert "CSRF" in _detail(response)


def test_a_viewers_session_may_read_but_not_write(personas, routes):
    client = _session(personas.viewer, csrf=True)
    reads = [
        (route, method)
        for route in routes
        for method, scope in _scoped(route)
        # The audit log and webhooks are for those who administer the organisation.
        if not scope.writes and scope is not Scope.AUDIT_READ
    ]
    assert reads, "expected organisation API operations that read"
    for route, method in reads:
        response = _call(client, method, route.url(personas.organisation))
        assert response.status_code != 403, f"{method} {route.name} refused a viewer: {_detail(response)!r}"
    for route, method, scope in _write_operations(routes):
        response = _call(client, method, route.url(personas.organisation))
        assert response.status_code == 403, f"{method} {route.name} let a viewer write: {response.status_code}"
        assert str(scope) in _detail(response)


def test_a_members_session_write_with_a_csrf_token_works(personas, routes):
    """Any documented JSON write example sent from a member's browser session (with the CSRF token)
    succeeds: sessions are a first-class way in, not only keys."""
    examples = request_examples()
    client = _session(personas.member, csrf=True)
    tried = []
    for route, method, _scope in _write_operations(routes):
        body = example_for(examples, method, route.url(personas.organisation))
        if method != "POST" or body is None:
            continue
        response = _call(client, method, route.url(personas.organisation), body)
        if 200 <= response.status_code < 300:
            return
        tried.append(f"{method} {route.name}: {response.status_code} {_detail(response)!r}")
    if not tried:
        pytest.skip("No organisation API POST documents a JSON request example yet.")
    pytest.fail("No documented write succeeded from a member's session:\n" + "\n".join(tried))
