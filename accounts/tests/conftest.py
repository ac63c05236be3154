"""Fixtures for the accounts tests: signing in through allauth's real forms, and reading emails."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client

from accounts.tests.factories import DEFAULT_PASSWORD

LINK = re.compile(r"https?://\S+")


def links_in(message: mail.EmailMessage) -> list[str]:
    """Every URL in an email's plain-text body, with the scheme and host removed."""
    return [re.sub(r"^https?://[^/]+", "", url) for url in LINK.findall(message.body)]


def sign_in(browser: Client, email: str, password: str = DEFAULT_PASSWORD) -> object:
    """Log in the way a person does: through allauth's login form."""
    return browser.post("/accounts/login/", {"login": email, "password": password})


@pytest.fixture
def sign_in_as() -> Callable[..., Client]:
    """A fresh client signed in through the login form (so allauth records a recent authentication)."""

    def make(email: str, password: str = DEFAULT_PASSWORD) -> Client:
        browser = Client()
        response = sign_in(browser, email, password)
        assert response.status_code == 302, "the login form did not accept the credentials"
        return browser

    return make
