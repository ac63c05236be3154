"""Signing in, signing up, password resets, the API and the assistant are rate-limited.

The sign-in pages are limited by django-allauth, which reads ACCOUNT_RATE_LIMITS on every request; each
test lowers one rate so that a few requests through allauth's real views and forms reach it. The API's
per-key throttle and the assistant's per-organisation allowance have their own detailed tests
(config/tests/test_api_throttling.py, chat/tests/test_api.py); here we only prove they are in force.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse
from rest_framework.settings import api_settings

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from chat import services as chat_services
from config.api.throttling import PrincipalRateThrottle
from tests.api_routes import api_routes
from tests.isolation import build_tenant_data

pytestmark = pytest.mark.django_db

TOO_MANY_REQUESTS = 429


@pytest.fixture
def rate_limits(settings):
    """`rate_limits(action="2/m/ip")` lowers allauth's limits for one test, keeping the others."""

    def lower(**rates: str) -> None:
        settings.ACCOUNT_RATE_LIMITS = {**django_settings.ACCOUNT_RATE_LIMITS, **rates}

    return lower


def test_every_sign_in_page_has_a_stated_limit():
    for action in ("login", "login_failed", "signup", "reset_password", "reset_password_from_key"):
        assert django_settings.ACCOUNT_RATE_LIMITS.get(action), f"ACCOUNT_RATE_LIMITS has no {action!r} rate"


def test_sign_in_attempts_from_one_address_are_limited(client, rate_limits):
    rate_limits(login="2/m/ip")
    url = reverse("account_login")
    for _ in range(2):
        assert client.post(url, {"login": "nobody@example.com", "password": "wrong"}).status_code == 200
    assert client.post(url, {"login": "nobody@example.com", "password": "wrong"}).status_code == TOO_MANY_REQUESTS


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused_for_a_while(client, rate_limits):
    rate_limits(login_failed="2/5m/key")
    user = UserFactory(email="guessed@example.com")
    url = reverse("account_login")
    for _ in range(2):
        client.post(url, {"login": user.email, "password": "not-the-password"})
    response = client.post(url, {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_ups_from_one_address_are_limited(client, rate_limits):
    rate_limits(signup="2/m/ip")
    url = reverse("account_signup")
    for number in range(2):
        data = {"email": f"new{number}@example.com", "password1": "a-long-passphrase", "password2": "mismatch"}
        assert client.post(url, data).status_code == 200
    data = {"email": "new3@example.com", "password1": "a-long-passphrase", "password2": "a-long-passphrase"}
    assert client.post(url, data).status_code == TOO_MANY_REQUESTS


def test_password_reset_emails_for_one_address_are_limited(client, rate_limits):
    rate_limits(reset_password="20/m/ip,2/m/key")
    user = UserFactory(email="forgetful@example.com")
    url = reverse("account_reset_password")
    for _ in range(2):
        assert client.post(url, {"email": user.email}).status_code == 302
    assert client.post(url, {"email": user.email}).status_code == TOO_MANY_REQUESTS
    assert len(mail.outbox) == 2


def test_every_api_endpoint_is_throttled_per_key(personas):
    assert api_settings.DEFAULT_THROTTLE_RATES["api"]
    build_tenant_data(personas.organisation, per_model=1)  # rows for the routes' object ids
    unthrottled = [
        route.name
        for route in api_routes(personas.organisation)
        if not any(issubclass(throttle, PrincipalRateThrottle) for throttle in route.view_class().throttle_classes)
    ]
    assert not unthrottled, f"API views without the per-key throttle: {unthrottled}"


def test_the_assistant_limits_questions_per_organisation(personas, client_for, monkeypatch):
    assert chat_services.QUESTIONS_PER_MINUTE > 0
    monkeypatch.setattr(chat_services, "QUESTIONS_PER_MINUTE", 1)
    client = client_for(personas.member)
    assert client.post(reverse("assistant_start"), {"question": "Do we need MFA?"}).status_code == 302
    # The allowance is the organisation's: a colleague's question is over it too.
    response = client_for(personas.admin).post(reverse("assistant_start"), {"question": "And backups?"})
    assert response.status_code == TOO_MANY_REQUESTS
