"""Nothing of one organisation is ever shown to, or changed by, an API caller of another.

Builds two organisations with data in every tenant model and walks every API route with every method:
- organisation A's own key (all scopes, read scopes only, and each scope alone), A's slug, but B's object
  ids: 404 (405 where the route lacks the method); A's key with B's slug: 404;
- a browser session of each role in A (the API's session authentication): the same;
- someone in both organisations (a role in A, viewer in B): B's ids through A's slug 404, and at B's
  own address they may read as the viewer they are there but change nothing;
- a partner key that only A granted: B's slug 404, B's ids through A's slug 404, and A's slug 404 too
  once A revokes the grant.
Bodies of writes name B's objects and people in every field an API might take them from. No response
may show B's data, B's rows must be unchanged afterwards, and no row of A may have come to point at B.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.audit import Actor
from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.scopes import ALL_SCOPES, READ_SCOPES, Scope, scopes_for_role
from accounts.services_api import partner_grant_revoke
from accounts.tests.factories import MembershipFactory, PartnerFactory, PartnerGrantFactory, UserFactory
from tests.api_routes import WALKED_METHODS, ApiRoute, api_routes, refuse_network, url_kwargs
from tests.isolation import (
    MISSING_ID,
    TwoOrganisations,
    assert_missing,
    assert_no_leak,
    foreign_references,
    hostile_body,
    organisation_rows,
    person_in,
    secret_markers,
    signed_in,
    two_organisations,
)

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.CONSULTANT]
KEY_SCOPES = {"all-scopes": ALL_SCOPES, "read-scopes": READ_SCOPES}


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    # The walk makes hundreds of requests with one key; the limit has tests of its own.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": None}}


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    refuse_network(monkeypatch)


@pytest.fixture
def world() -> TwoOrganisations:
    return two_organisations()


def _call(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    # `generic` serves a browser's Client and an APIClient (which adds its key) alike.
    if method in ("GET", "DELETE"):
        return client.generic(method, url)
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def _walk(routes: list[ApiRoute], methods: tuple[str, ...] = WALKED_METHODS) -> Iterator[tuple[ApiRoute, str]]:
    for route in routes:
        for method in methods:
            yield route, method


def walk_with_other_organisations_ids(
    client: Client, world: TwoOrganisations, who: str, *, operations: set[tuple[str, str]] | None = None
) -> int:
    """Every route and method (or only `operations`, as (route name, METHOD)) as `client`: A's slug with
    B's object ids must 404, B's slug must 404. Returns how many requests named B's objects."""
    visible, secret = world.visible, world.secret
    markers = secret_markers(secret, visible)
    assert "Secretive Holdings Ltd" in markers
    body = hostile_body(secret)
    walked = 0
    for route, method in _walk(api_routes(visible)):
        if operations is not None and (route.name, method) not in operations:
            continue
        # (a) A's address, B's objects in the URL.
        url = route.url(visible, objects_of=secret) if route.is_organisation_route else route.url(secret)
        response = _call(client, method, url, body)
        where = f"{method} {url} ({who}, other organisation's ids)"
        assert_no_leak(response, markers, where)
        assert response.status_code != 500, f"{where} answered 500"
        if route.tenant_kwargs:
            assert_looks_missing(
                client, route, method, response, where, address=visible if route.is_organisation_route else secret
            )
            walked += 1

        # (b) B's address.
        if route.is_organisation_route:
            url = route.url(secret)
            response = _call(client, method, url, body)
            where = f"{method} {url} ({who}, other organisation's slug)"
            assert_no_leak(response, markers, where)
            assert response.status_code == 404, f"{where} answered {response.status_code}, not 404"
            walked += 1
    return walked


def assert_looks_missing(
    client: Client, route: ApiRoute, method: str, response: Any, where: str, *, address: Organisation
) -> None:
    """B's object at A's address answers as an object that exists nowhere: 404 (405 for a method the route
    lacks), or the 403 of a caller refused the operation whatever it names (a scope or role it lacks)."""
    if method in route.methods:
        assert response.status_code != 405, f"{where} answered 405"
    kwargs = {**url_kwargs(route, address, objects_of=address), **dict.fromkeys(route.tenant_kwargs, MISSING_ID)}
    nowhere = reverse(route.name, kwargs=kwargs)
    assert_missing(response, where, lambda: _call(client, method, nowhere, {}))


class Unchanged:
    """B's rows, and A's references to anything outside A, as they were."""

    def __init__(self, world: TwoOrganisations, walker: User | None = None) -> None:
        self.world, self.walker = world, walker
        self.rows = organisation_rows(world.secret, walker=walker)
        self.references = foreign_references(world.visible)

    def check(self) -> None:
        assert organisation_rows(self.world.secret, walker=self.walker) == self.rows, "another organisation changed"
        assert foreign_references(self.world.visible) - self.references == set(), "a row now points at another"


# --- keys ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scopes", KEY_SCOPES.values(), ids=KEY_SCOPES.keys())
def test_no_api_call_shows_or_changes_another_organisations_data(world, api_for, scopes):
    unchanged = Unchanged(world)

    walked = walk_with_other_organisations_ids(api_for(world.visible, scopes=scopes), world, "own key")

    assert walked > 50
    unchanged.check()


def test_a_key_holding_one_scope_reaches_nothing_of_another_organisation_with_it(world, api_for):
    """Each scope alone, over the operations it opens (the others refuse it before any lookup)."""
    unchanged = Unchanged(world)
    by_scope: dict[Scope, set[tuple[str, str]]] = {scope: set() for scope in Scope}
    for route in api_routes(world.visible):
        for method, scope in route.operations.items():
            if scope is not None:
                by_scope[scope].add((route.name, method))

    for scope, operations in by_scope.items():
        assert operations, f"no operation needs {scope}"
        key = api_for(world.visible, scopes=[scope])
        walk_with_other_organisations_ids(key, world, f"key with {scope} only", operations=operations)

    unchanged.check()


# --- browser sessions ----------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES, ids=[str(role) for role in ROLES])
def test_a_browser_session_of_every_role_reaches_nothing_of_another_organisation(world, role):
    person = person_in(world.visible, role, email=f"{role}@visible.example", staff=role == Role.CONSULTANT)
    unchanged = Unchanged(world)

    walked = walk_with_other_organisations_ids(signed_in(person, world.visible), world, f"{role}'s session")

    assert walked > 50
    unchanged.check()


@pytest.mark.parametrize("role", ROLES, ids=[str(role) for role in ROLES])
def test_in_both_organisations_a_session_is_the_role_it_holds_at_each_address(world, role):
    """A role in A, viewer in B: B's ids through A's address 404; at B's address they read, never write."""
    person = UserFactory.create(email=f"both-{role}@visible.example", is_staff=role == Role.CONSULTANT)
    MembershipFactory(organisation=world.secret, role=Role.VIEWER, user=person)
    MembershipFactory(organisation=world.visible, role=role, user=person)
    unchanged = Unchanged(world, walker=person)
    browser = signed_in(person, world.visible)
    # B's name and address are theirs to see (their list of organisations shows both). At B's address they
    # are B's viewer: every write there is refused, so B stays as it was.
    markers = secret_markers(world.secret, world.visible) - {world.secret.name, world.secret.slug}
    body = hostile_body(world.secret)
    refused = 0

    for route, method in _walk([route for route in api_routes(world.visible) if route.is_organisation_route]):
        url = route.url(world.visible, objects_of=world.secret)
        response = _call(browser, method, url, body)
        where = f"{method} {url} ({role} in A and viewer in B, B's ids at A's address)"
        assert_no_leak(response, markers, where)
        if route.tenant_kwargs:
            assert_looks_missing(browser, route, method, response, where, address=world.visible)

        scope = route.operations.get(method)
        if scope is not None and scope.writes:
            url = route.url(world.secret)
            response = _call(browser, method, url, body)
            where = f"{method} {url} ({role} in A and viewer in B, at B's address)"
            assert response.status_code == 403, f"{where} answered {response.status_code}, not 403"
            refused += 1

    assert refused > 10
    at_secret = browser.get(f"/api/v1/organisations/{world.secret.slug}/")
    assert sorted(at_secret.json()["scopes"]) == sorted(scopes_for_role(Role.VIEWER))
    unchanged.check()


# --- partners ------------------------------------------------------------------------------------
def test_partner_reaches_only_organisations_that_granted_it_and_only_while_granted(world, api_for):
    visible, secret = world.visible, world.secret
    owner = Membership.objects.get(organisation=visible, role=Role.OWNER).user
    markers = secret_markers(secret, visible)
    unchanged = Unchanged(world)
    partner = PartnerFactory(name="Trusty Advisers LLP")
    grant = PartnerGrantFactory.create(organisation=visible, partner=partner)
    partner_key = api_for(partner=partner)
    routes = [route for route in api_routes(visible) if route.is_organisation_route]
    body = hostile_body(secret)

    assert partner_key.get(f"/api/v1/organisations/{visible.slug}/").status_code == 200
    # Granted by A: B's slug, and B's objects at A's address, are missing alike.
    assert walk_with_other_organisations_ids(partner_key, world, "partner key granted by A only") > 50

    partner_grant_revoke(grant=grant, actor=Actor(user=owner))
    for route, method in _walk(routes):
        url = route.url(visible)
        response = _call(partner_key, method, url, body)
        where = f"{method} {url} (partner key, grant revoked)"
        assert_no_leak(response, markers, where)
        assert response.status_code == 404, f"{where} answered {response.status_code}, not 404"

    unchanged.check()
