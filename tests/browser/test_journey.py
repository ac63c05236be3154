"""A new owner's first visit, in a real browser: sign up, create the organisation, describe the
business, adopt a framework, answer the assessment and see the dashboard."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_and_create_the_organisation(live_server, page):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Email").fill("founder@newbakery.example")
    page.get_by_label("Password", exact=True).fill("a-long-and-unusual-passphrase")
    page.get_by_label("Confirm password").fill("a-long-and-unusual-passphrase")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/organisations/new/$"))
    screenshot(page, "journey-01-create-organisation")
    page.get_by_label("Organisation name").fill("New Bakery Ltd")
    page.get_by_role("button", name="Create organisation").click()
    page.wait_for_url(re.compile(r"/$"))
    assert "New Bakery Ltd" in page.content()
    screenshot(page, "journey-02-dashboard-new")
    assert page.console_errors == []
