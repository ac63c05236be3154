"""Request limits are per key (or per signed-in person), and a refused request says when to retry."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ORGANISATION_URL = "/api/v1/organisations/acme-bakery/"


@pytest.fixture(autouse=True)
def _three_a_minute(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/minute"}}


def test_the_request_over_the_limit_is_refused_with_retry_after(personas, api_for):
    client = api_for(personas.organisation)
    for _ in range(3):
        assert client.get(ORGANISATION_URL).status_code == 200
    response = client.get(ORGANISATION_URL)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 429
    assert problem["title"] == "Too many requests"
    retry_after = int(response["Retry-After"])  # whole seconds, as RFC 9110 requires
    assert 1 <= retry_after <= 60
    assert str(retry_after) in problem["detail"]


def test_limits_are_per_key(personas, api_for):
    busy, quiet = api_for(personas.organisation), api_for(personas.organisation)
    for _ in range(3):
        busy.get(ORGANISATION_URL)
    assert busy.get(ORGANISATION_URL).status_code == 429
    assert quiet.get(ORGANISATION_URL).status_code == 200


def test_every_endpoint_shares_a_keys_allowance(personas, api_for):
    client = api_for(personas.organisation)
    client.get("/api/v1/organisations/")
    client.get(ORGANISATION_URL)
    client.get("/api/v1/organisations/")
    assert client.get(ORGANISATION_URL).status_code == 429


def test_a_signed_in_person_has_an_allowance_of_their_own(personas, api_for, client_for):
    client = api_for(personas.organisation)
    for _ in range(3):
        client.get(ORGANISATION_URL)
    assert client.get(ORGANISATION_URL).status_code == 429
    assert client_for(personas.member).get(ORGANISATION_URL).status_code == 200


def test_a_new_rate_applies_without_a_restart(personas, api_for, settings):
    client = api_for(personas.organisation)
    for _ in range(3):
        client.get(ORGANISATION_URL)
    assert client.get(ORGANISATION_URL).status_code == 429
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "100/minute"}}
    assert client.get(ORGANISATION_URL).status_code == 200
