"""Nothing of one organisation is ever shown to, or changed by, an API caller of another.

Builds two organisations with data in every tenant model and walks every API route with every method:
- organisation A's own key, A's slug, but B's object ids: 404 (405 where the route lacks the method);
- A's key with B's slug: 404;
- a partner key that only A granted: B's slug 404, and A's slug 404 too once A revokes the grant.
Bodies of writes name B's objects and people in every field an API might take them from. No response
may show B's data, B's rows must be unchanged afterwards, and no row of A may have come to point at B.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import Any

import pytest
from django.db import models
from rest_framework.test import APIClient

from accounts.audit import Actor
from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.services_api import partner_grant_revoke
from accounts.tenancy import tenant_models
from accounts.tests.factories import (
    MembershipFactory,
    OrganisationFactory,
    PartnerFactory,
    PartnerGrantFactory,
    UserFactory,
)
from tests.api_routes import WALKED_METHODS, ApiRoute, api_routes, refuse_network
from tests.isolation import build_tenant_data, organisation_rows, secret_markers, tenant_model_by_kwarg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    # The walk makes hundreds of requests with one key; the limit has tests of its own.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": None}}


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    refuse_network(monkeypatch)


@pytest.fixture
def world():
    visible = OrganisationFactory(name="Visible Ventures Ltd", slug="visible-ventures")
    secret = OrganisationFactory(name="Secretive Holdings Ltd", slug="secretive-holdings")
    owner = MembershipFactory(
        organisation=visible, role=Role.OWNER, user=UserFactory(email="owner@visible.example")
    ).user
    MembershipFactory(organisation=secret, role=Role.OWNER, user=UserFactory(email="owner@secretive.example"))
    build_tenant_data(visible)
    build_tenant_data(secret)
    return visible, secret, owner


def hostile_body(secret: Organisation) -> dict[str, Any]:
    """A write naming the secret organisation's objects and people under every likely field name."""
    body: dict[str, Any] = {
        "organisation": secret.pk,
        "organisation_id": secret.pk,
        "organisation_slug": secret.slug,
        "name": "Renamed by an outsider",
        "title": "Renamed by an outsider",
    }
    for kwarg, model in tenant_model_by_kwarg().items():
        row = model.objects.filter(organisation=secret).order_by("pk").first()
        if row is None:
            continue
        name = kwarg.removesuffix("_id")
        body.update({name: row.pk, kwarg: row.pk, f"{name}_ids": [row.pk], f"{name}s": [row.pk]})
    person = User.objects.filter(memberships__organisation=secret).order_by("pk").first()
    if person is not None:
        for field in ("owner", "assignee", "user", "assigned_to", "reviewer", "approver"):
            body.update({field: person.pk, f"{field}_id": person.pk})
    return body


def _foreign_references(organisation: Organisation) -> set[tuple[str, int, str]]:
    """Rows of the organisation that point at another organisation's row, or at someone outside it."""
    members = set(Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True))
    tenant = set(tenant_models())
    found: set[tuple[str, int, str]] = set()
    for model in tenant:
        rows = model.objects.filter(organisation=organisation)
        for field in model._meta.get_fields():
            if not field.is_relation or field.auto_created or field.name == "organisation":
                continue
            target = field.related_model
            if target in tenant:
                lookup = {f"{field.name}__organisation": organisation}
                stray = rows.filter(**{f"{field.name}__isnull": False}).exclude(**lookup)
                found.update((model._meta.label, pk, field.name) for pk in stray.values_list("pk", flat=True))
            elif target is User and isinstance(field, models.ForeignKey):
                pairs = rows.exclude(**{f"{field.attname}__isnull": True}).values_list("pk", field.attname)
                found.update((model._meta.label, pk, field.name) for pk, user_id in pairs if user_id not in members)
    return found


def _assert_no_leak(response: Any, markers: set[str], where: str) -> None:
    body = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
    text = body + " " + " ".join(f"{key}: {value}" for key, value in response.headers.items())
    for marker in markers:
        assert marker not in text, f"{where} shows {marker!r} of another organisation"
        assert escape(marker) not in text, f"{where} shows {marker!r} of another organisation"


def _call(client: APIClient, method: str, url: str, body: dict[str, Any]) -> Any:
    if method in ("GET", "DELETE"):
        return getattr(client, method.lower())(url)
    return getattr(client, method.lower())(url, body, format="json")


def _walk(routes: list[ApiRoute], methods: tuple[str, ...] = WALKED_METHODS) -> Iterator[tuple[ApiRoute, str]]:
    for route in routes:
        for method in methods:
            yield route, method


def test_no_api_call_shows_or_changes_another_organisations_data(world, api_for):
    visible, secret, _owner = world
    markers = secret_markers(secret, visible)
    assert "Secretive Holdings Ltd" in markers
    before = organisation_rows(secret)
    references_before = _foreign_references(visible)
    routes = api_routes(visible)
    body = hostile_body(secret)
    own_key = api_for(visible)
    walked = 0

    for route, method in _walk(routes):
        # (a) A's key and slug, B's objects in the URL.
        url = route.url(visible, objects_of=secret) if route.is_organisation_route else route.url(secret)
        response = _call(own_key, method, url, body)
        where = f"{method} {url} (own key, other organisation's ids)"
        _assert_no_leak(response, markers, where)
        assert response.status_code != 500, f"{where} answered 500"
        if route.tenant_kwargs:
            expected = (404, 405) if method not in route.methods else (404,)
            assert response.status_code in expected, f"{where} answered {response.status_code}, not 404"
        walked += 1

        # (b) A's key naming B.
        if route.is_organisation_route:
            url = route.url(secret)
            response = _call(own_key, method, url, body)
            where = f"{method} {url} (own key, other organisation's slug)"
            _assert_no_leak(response, markers, where)
            assert response.status_code == 404, f"{where} answered {response.status_code}, not 404"

    assert walked == len(routes) * len(WALKED_METHODS)
    assert organisation_rows(secret) == before, "another organisation's data changed"
    assert _foreign_references(visible) - references_before == set(), "a row now points at another organisation"


def test_partner_reaches_only_organisations_that_granted_it_and_only_while_granted(world, api_for):
    visible, secret, owner = world
    markers = secret_markers(secret, visible)
    before = organisation_rows(secret)
    partner = PartnerFactory(name="Trusty Advisers LLP")
    grant = PartnerGrantFactory(organisation=visible, partner=partner)
    partner_key = api_for(partner=partner)
    routes = [route for route in api_routes(visible) if route.is_organisation_route]
    body = hostile_body(secret)

    assert partner_key.get(f"/api/v1/organisations/{visible.slug}/").status_code == 200
    for route, method in _walk(routes):
        url = route.url(secret)
        response = _call(partner_key, method, url, body)
        where = f"{method} {url} (partner key, organisation that never granted it)"
        _assert_no_leak(response, markers, where)
        assert response.status_code == 404, f"{where} answered {response.status_code}, not 404"

    partner_grant_revoke(grant=grant, actor=Actor(user=owner))
    for route, method in _walk(routes):
        url = route.url(visible)
        response = _call(partner_key, method, url, body)
        where = f"{method} {url} (partner key, grant revoked)"
        _assert_no_leak(response, markers, where)
        assert response.status_code == 404, f"{where} answered {response.status_code}, not 404"

    assert organisation_rows(secret) == before, "another organisation's data changed"
