"""Nothing of one organisation is ever shown to, or changed by, another.

Builds two organisations with data in every tenant model, signs in as organisation A's owner, and
walks every URL the project has, filling URL arguments with organisation B's objects, for GET and
POST. It asserts that no response shows B's data, that URLs naming B's objects answer 404, that the
session never moves to B, and that B's rows are byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

from html import escape

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import Membership, Organisation
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.isolation import (
    THIRD_PARTY_KWARGS,
    app_kwarg_resolvers,
    build_tenant_data,
    discover_routes,
    organisation_rows,
    secret_markers,
    tenant_model_by_kwarg,
)

pytestmark = pytest.mark.django_db


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


def _url_for(route, secret: Organisation) -> tuple[str, bool]:
    """The URL with every argument filled from the secret organisation; and whether it names a tenant object."""
    by_kwarg = tenant_model_by_kwarg()
    resolvers = app_kwarg_resolvers()
    kwargs, names_secret_object = {}, False
    for name in route.kwargs:
        if name in by_kwarg:
            model = by_kwarg[name]
            kwargs[name] = model.objects.filter(organisation=secret).earliest("pk").pk
            names_secret_object = True
        elif name in resolvers:
            # A resolved argument is a capability such as a signed link, not an object id: its page
            # may answer, but must show and change nothing of the other organisation.
            kwargs[name] = resolvers[name](secret)
        elif not route.is_ours and name in THIRD_PARTY_KWARGS:
            kwargs[name] = THIRD_PARTY_KWARGS[name]
        else:
            pytest.fail(
                f"URL {route.name!r} takes {name!r}, which the isolation test cannot fill. Name it "
                f"<model_name>_id for a tenant model, or add a resolver to <app>/tests/isolation.py."
            )
    try:
        return reverse(route.name, kwargs=kwargs), names_secret_object
    except NoReverseMatch as error:
        pytest.fail(f"Could not build {route.name!r} with {kwargs}: {error}")


def _assert_no_leak(response, markers: set[str], where: str) -> None:
    body = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
    text = body + " " + " ".join(f"{key}: {value}" for key, value in response.headers.items())
    for marker in markers:
        assert marker not in text, f"{where} shows {marker!r} of another organisation"
        assert escape(marker) not in text, f"{where} shows {marker!r} of another organisation"


def test_no_url_shows_or_changes_another_organisations_data(world):
    visible, secret, owner = world
    markers = secret_markers(secret, visible)
    assert "Secretive Holdings Ltd" in markers
    before = organisation_rows(secret)
    routes = discover_routes()
    assert any(route.is_ours and route.kwargs for route in routes), "expected object URLs to walk"

    payload = {
        "organisation": str(secret.pk),
        "name": "Renamed by an outsider",
        "role": Role.VIEWER,
        "email": "intruder@visible.example",
        "action": "",
    }
    walked = 0
    for route in routes:
        url, names_secret_object = _url_for(route, secret)
        for method in ("get", "post"):
            client = Client()
            client.force_login(owner)
            response = getattr(client, method)(url, payload if method == "post" else None)
            where = f"{method.upper()} {url}"
            _assert_no_leak(response, markers, where)
            if route.is_ours and names_secret_object:
                assert response.status_code in (404, 405), f"{where} answered {response.status_code}, not 404"
            session_organisation = client.session.get("organisation_id")
            assert session_organisation != secret.pk, f"{where} moved the session into another organisation"
            # Whatever that request did, the next page A sees must still be A's alone.
            if client.session.get("_auth_user_id"):
                _assert_no_leak(client.get(reverse("dashboard")), markers, f"dashboard after {where}")
            walked += 1

    assert walked >= 2 * len(routes)
    assert organisation_rows(secret) == before, "another organisation's data changed"
    assert Membership.objects.filter(organisation=secret, user=owner).count() == 0
