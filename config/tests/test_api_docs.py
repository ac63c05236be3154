"""The OpenAPI schema and the docs page: open to anyone, valid OpenAPI 3, every organisation operation
naming its scope, and the page served from our own static files under the site's strict policy."""

from __future__ import annotations

import re

import pytest
import yaml
from django.test import override_settings
from django.utils.html import escape
from drf_spectacular.validation import validate_schema

from accounts.scopes import SCOPE_DESCRIPTIONS, Scope
from config.api.docs import rate_limit

pytestmark = pytest.mark.django_db

ORGANISATION_PREFIX = "/api/v1/organisations/{organisation_slug}/"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _csp(response) -> dict[str, list[str]]:
    directives = (part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    """The schema as an anonymous caller gets it (generated once: it takes seconds)."""
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Greenlight API"
    validate_schema(schema)
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_every_organisation_operation_names_its_scope(schema):
    operations = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        if path.startswith(ORGANISATION_PREFIX) and path != ORGANISATION_PREFIX
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert operations
    known = {scope.value for scope in Scope}
    missing = [f"{method} {path}" for method, path, operation in operations if "x-required-scope" not in operation]
    assert missing == []
    for method, path, operation in operations:
        assert operation["x-required-scope"] in known, f"{method} {path}"
        assert f"**Scope:** `{operation['x-required-scope']}`" in operation["description"], f"{method} {path}"


def test_operations_are_grouped_by_what_they_touch(schema):
    tags = {tag for item in schema["paths"].values() for operation in item.values() for tag in operation["tags"]}
    evidence = [item for path, item in schema["paths"].items() if path.startswith(f"{ORGANISATION_PREFIX}evidence/")]
    assert "organisations" in tags
    for item in evidence:
        assert all(operation["tags"] == ["evidence"] for operation in item.values())


def test_schema_is_yaml_by_default_for_anyone(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert ORGANISATION_PREFIX in document["paths"]


def test_docs_page_is_open_to_anonymous_visitors(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/settings/api-keys/"' in page
    assert "Authorization: Bearer glk_" in page
    assert 'href="/api/schema/"' in page
    assert 'href="/api/schema/?format=json"' in page
    assert 'data-schema-url="/api/schema/?format=json"' in page
    assert "Greenlight-Signature: t=" in page
    assert "Idempotency-Key" in page
    assert "Retry-After" in page
    assert "application/problem+json" in page
    assert "Sign in" in page


def test_docs_page_lists_every_scope_with_its_description(client):
    page = client.get("/api/docs/").content.decode()

    for scope, description in SCOPE_DESCRIPTIONS.items():
        assert f"<tr><td><code>{scope.value}</code></td><td>{escape(description)}</td></tr>" in page


def test_docs_page_serves_redoc_from_our_static_files_with_the_nonce(client):
    response = client.get("/api/docs/")

    page = response.content.decode()
    policy = _csp(response)
    nonce = next(value for value in policy["script-src"] if value.startswith("'nonce-"))[7:-1]
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert any("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in tag for tag in scripts)
    assert any("js/api-docs.js" in tag for tag in scripts)
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag
        assert 'src="/static/' in tag
    # Nothing from another origin: no CDN, no web fonts.
    assert not re.search(r"""(src|href)="(https?:)?//(?!www\.rfc-editor\.org)""", page)


def test_docs_page_relaxes_the_policy_only_for_redocs_search_worker(client):
    docs = _csp(client.get("/api/docs/"))
    login = _csp(client.get("/accounts/login/"))

    assert docs["worker-src"] == ["'self'", "blob:"]
    assert "worker-src" not in login
    assert {name: values for name, values in docs.items() if name != "worker-src"}.keys() == login.keys()
    for name in ("default-src", "img-src", "connect-src", "object-src", "frame-ancestors"):
        assert docs[name] == login[name]
    for name in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in docs[name]
        assert any(value.startswith("'nonce-") for value in docs[name])


def test_docs_page_offers_signed_in_people_their_keys(personas, client_for):
    response = client_for(personas.owner).get("/api/docs/")

    assert response.status_code == 200
    assert "Back to Greenlight" in response.content.decode()


def test_docs_page_only_answers_reads(client):
    assert client.post("/api/docs/").status_code == 405
    assert client.head("/api/docs/").status_code == 200


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        ("600/minute", "600 requests a minute"),
        ("5000/hour", "5,000 requests an hour"),
        ("10/s", "10 requests a second"),
    ],
)
def test_rate_limit_is_read_from_the_throttle_setting(settings, rate, shown):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": rate}}

    assert str(rate_limit()) == shown


def test_docs_page_says_when_there_is_no_rate_limit(client, settings):
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": None}}):
        page = client.get("/api/docs/").content.decode()

    assert "This server sets no rate limit" in page
