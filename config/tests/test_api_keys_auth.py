"""API keys: only a live key in the Authorization header gets in, and it reaches its own organisation only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.audit import Actor
from accounts.models import ApiKey
from accounts.services_api import api_key_revoke, api_key_rotate
from accounts.tests.factories import ApiKeyFactory, PartnerFactory, PartnerGrantFactory, api_secret

pytestmark = pytest.mark.django_db

ORGANISATION_URL = "/api/v1/organisations/acme-bakery/"


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _assert_refused(response, detail: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert detail in response.json()["detail"]


def _later(monkeypatch, delta: timedelta) -> None:
    moment = timezone.now() + delta
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_a_live_key_reads_its_organisation(personas, api_for):
    response = api_for(personas.organisation).get(ORGANISATION_URL)
    assert response.status_code == 200
    assert response.json()["slug"] == "acme-bakery"


def test_no_key_is_refused_with_a_challenge(personas):
    response = APIClient().get(ORGANISATION_URL)
    _assert_refused(response, "credentials were not provided")


def test_a_revoked_key_is_refused(personas, api_for):
    client = api_for(personas.organisation)
    api_key_revoke(key=client.key, actor=Actor(user=personas.owner))
    _assert_refused(client.get(ORGANISATION_URL), "has been revoked")


def test_an_expired_key_is_refused(personas):
    key = ApiKeyFactory(organisation=personas.organisation, expires_at=timezone.now() - timedelta(seconds=1))
    _assert_refused(_bearer(api_secret(key)).get(ORGANISATION_URL), "has expired")


def test_a_rotated_key_works_through_its_grace_period_then_stops(personas, monkeypatch):
    old = ApiKeyFactory(organisation=personas.organisation)
    issued = api_key_rotate(key=old, actor=Actor(user=personas.owner), grace=timedelta(hours=24))
    assert _bearer(api_secret(old)).get(ORGANISATION_URL).status_code == 200
    assert _bearer(issued.secret).get(ORGANISATION_URL).status_code == 200

    _later(monkeypatch, timedelta(hours=24, minutes=1))
    _assert_refused(_bearer(api_secret(old)).get(ORGANISATION_URL), "has expired")
    assert _bearer(issued.secret).get(ORGANISATION_URL).status_code == 200


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer glk_00000000_" + "y" * 32, "not recognised"),  # well formed, never issued
        ("Bearer glk_nope", "not recognised"),
        ("Bearer " + "x" * 45, "not recognised"),
        ("Bearer", "Send the key as"),
        ("Bearer glk_a glk_b", "Send the key as"),
    ],
)
def test_unknown_and_malformed_keys_are_refused(personas, header, detail):
    ApiKeyFactory(organisation=personas.organisation)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    _assert_refused(client.get(ORGANISATION_URL), detail)


def test_a_key_that_is_not_valid_text_is_refused(personas):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=b"Bearer glk_\xff\xfe")
    _assert_refused(client.get(ORGANISATION_URL), "not a Greenlight API key")


@pytest.mark.parametrize("name", ["api_key", "access_token", "token"])
def test_a_key_in_the_query_string_is_refused_and_explained(personas, name):
    key = ApiKeyFactory(organisation=personas.organisation)
    response = APIClient().get(ORGANISATION_URL, {name: api_secret(key)})
    _assert_refused(response, "Authorization header, never in the URL")
    # Even alongside a proper header: the URL has already been logged somewhere.
    response = _bearer(api_secret(key)).get(ORGANISATION_URL, {name: api_secret(key)})
    assert response.status_code == 401


def test_an_inactive_partners_key_is_refused(personas, api_for):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    client = api_for(partner=partner)
    assert client.get(ORGANISATION_URL).status_code == 200
    partner.is_active = False
    partner.save(update_fields=["is_active"])
    _assert_refused(client.get(ORGANISATION_URL), "suspended")


def test_last_use_is_recorded_at_most_once_a_minute(personas, api_for, monkeypatch):
    client = api_for(personas.organisation)
    assert client.key.last_used_at is None
    client.get(ORGANISATION_URL)
    first = ApiKey.objects.get(pk=client.key.pk).last_used_at
    assert first is not None

    _later(monkeypatch, timedelta(seconds=50))
    client.get(ORGANISATION_URL)
    assert ApiKey.objects.get(pk=client.key.pk).last_used_at == first

    _later(monkeypatch, timedelta(minutes=2))
    client.get(ORGANISATION_URL)
    assert ApiKey.objects.get(pk=client.key.pk).last_used_at > first


def test_a_key_reaches_its_own_organisation_only(personas, api_for):
    client = api_for(personas.organisation)
    response = client.get(f"/api/v1/organisations/{personas.other_organisation.slug}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    listed = client.get("/api/v1/organisations/").json()["results"]
    assert [row["slug"] for row in listed] == ["acme-bakery"]


def test_a_key_wins_over_a_session_cookie(personas, api_for, client_for):
    """A request with a key is the key's, whatever cookies it carries: an outsider's session does not
    widen a key, and a key does not borrow the signed-in person's organisations."""
    client = api_for(personas.organisation)
    client.force_login(personas.outsider)
    response = client.get(f"/api/v1/organisations/{personas.other_organisation.slug}/")
    assert response.status_code == 404
