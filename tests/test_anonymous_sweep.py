"""An anonymous visitor gets nothing but the sign-in page, except from the URLs listed in config/public_urls.py.

Walks every URL the project has (ours, django-allauth's and the admin's), with URL arguments filled from
an organisation with data in every tenant model, and sends a GET and a POST from a client that is not
signed in. Each must answer a redirect to the sign-in page, 401/403 problem+json (the API), 404 or 405.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from accounts.models import Organisation
from accounts.tests.factories import OrganisationFactory
from config.public_urls import PUBLIC_URLS
from tests.isolation import (
    THIRD_PARTY_KWARGS,
    Route,
    app_kwarg_resolvers,
    build_tenant_data,
    discover_routes,
    tenant_model_by_kwarg,
)

pytestmark = pytest.mark.django_db


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
            pytest.fail(
                f"URL {route.name!r} takes {name!r}, which the sweep cannot fill. Name it <model_name>_id "
                f"for a tenant model, or add a resolver to <app>/tests/isolation.py."
            )
    return reverse(route.name, kwargs=kwargs)


def _refusal(response: HttpResponse) -> str | None:
    """How the response turned the visitor away, or None if it answered them."""
    # Admin pages of our own send staff to the admin's sign-in page; every other page to the members' one.
    sign_in_pages = (reverse("account_login"), reverse("admin:login"))
    if response.status_code in (301, 302) and urlsplit(response["Location"]).path in sign_in_pages:
        return "sign-in redirect"
    if response.status_code in (401, 403) and response.get("Content-Type", "").startswith("application/problem+json"):
        return "problem+json"
    if response.status_code in (404, 405):
        return str(response.status_code)
    return None


def test_anonymous_visitors_are_sent_to_sign_in_except_on_public_urls():
    organisation = OrganisationFactory(slug="sweep-organisation")
    build_tenant_data(organisation, per_model=1)
    routes = discover_routes()
    assert any(route.is_ours and route.kwargs for route in routes), "expected object URLs to walk"

    unlisted, needlessly_listed = [], []
    for route in routes:
        url = _url(route, organisation)
        answers = {method: getattr(Client(), method)(url) for method in ("get", "post")}
        answered = [
            f"{method.upper()} {url} -> {response.status_code}"
            for method, response in answers.items()
            if _refusal(response) is None
        ]
        if route.name in PUBLIC_URLS:
            if _refusal(answers["get"]) is not None:
                needlessly_listed.append(route.name)
        elif answered:
            unlisted.append(f"{route.name}: {', '.join(answered)}")

    assert not unlisted, (
        "These URLs answer anonymous visitors. Protect them (sign-in, or a key for the API), or add them to "
        "config/public_urls.py with the reason they are public:\n" + "\n".join(unlisted)
    )
    assert not needlessly_listed, (
        f"Listed as public in config/public_urls.py, but they refuse anonymous visitors: {needlessly_listed}. "
        "Take them off the list."
    )


def test_every_public_url_exists_and_says_why():
    names = {route.name for route in discover_routes()}
    assert set(PUBLIC_URLS) <= names, f"config/public_urls.py names URLs that do not exist: {set(PUBLIC_URLS) - names}"
    assert all(reason.strip() for reason in PUBLIC_URLS.values()), "every public URL needs its reason"


def test_the_api_answers_anonymous_callers_with_a_problem_not_a_page():
    response = Client().get(reverse("api_organisation_list"))
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    assert "Bearer" in response.get("WWW-Authenticate", "")
