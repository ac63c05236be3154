"""A new owner's first visit, in a real browser: sign up, create the organisation, describe the
business, adopt a framework, answer the assessment and see the dashboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_and_create_the_organisation(live_server, page):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Email").fill("founder@newbakery.example")
    page.get_by_label("Password", exact=True).fill("a-long-and-unusual-passphrase")
    page.get_by_label("Confirm password").fill("a-long-and-unusual-passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/organisations/new/$"))
    screenshot(page, "journey-01-create-organisation")
    page.get_by_label("Organisation name").fill("New Bakery Ltd")
    page.get_by_role("button", name="Create organisation").click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert "New Bakery Ltd" in page.content()
    screenshot(page, "journey-02-dashboard-new")
    assert page.console_errors == []


def continue_to_next_step(page) -> None:
    # Let the autosave requests finish first: the test server's in-memory SQLite takes one writer at a
    # time, where a real deployment's database would not mind.
    page.keyboard.press("Tab")  # leave the last field, so its change autosaves now, not on the click
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Continue").click()


def test_from_sign_up_to_a_readiness_score(live_server, page):
    from io import StringIO

    from django.core.management import call_command

    call_command("load_frameworks", stdout=StringIO())
    base = live_server.url
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Email").fill("owner@corner-cafe.example")
    page.get_by_label("Password", exact=True).fill("a-long-and-unusual-passphrase")
    page.get_by_label("Confirm password").fill("a-long-and-unusual-passphrase")
    page.get_by_role("button", name="Create account").click()
    page.get_by_label("Organisation name").fill("Corner Cafe Ltd")
    page.get_by_role("button", name="Create organisation").click()
    expect(page).to_have_url(re.compile(r"/$"))

    # The dashboard's next step leads into the business profile.
    page.get_by_role("link", name="Start your business profile").click()
    expect(page).to_have_url(re.compile(r"/onboarding/company/$"))
    page.locator("[name=company_number]").fill("12345678")
    page.locator("[name=sic_section]").select_option("I")
    page.locator("[name=employees_band]").select_option("10-49")
    page.locator("[name=turnover_band]").select_option("100k-1m")
    page.get_by_role("status").filter(has_text="Saved").wait_for()  # autosave answered
    screenshot(page, "journey-03-profile-company")
    continue_to_next_step(page)
    expect(page).to_have_url(re.compile(r"/onboarding/places/$"))
    page.locator("[name=customer_regions][value=uk]").check()
    page.locator("[name=staff_regions][value=uk]").check()
    continue_to_next_step(page)
    expect(page).to_have_url(re.compile(r"/onboarding/data/$"))
    page.locator("[name=customers_personal_data]").check()
    page.locator("[name=employee_data]").check()
    page.locator("[name=card_handling][value=terminals]").check()
    continue_to_next_step(page)
    expect(page).to_have_url(re.compile(r"/onboarding/technology/$"))
    page.locator("[name=productivity_suite][value=microsoft-365]").check()
    continue_to_next_step(page)
    expect(page).to_have_url(re.compile(r"/onboarding/customers/$"))
    page.locator("[name=sells_to_consumers]").check()
    page.locator("[name=public_sector_bids]").check()
    continue_to_next_step(page)
    expect(page).to_have_url(re.compile(r"/onboarding/goals/$"))
    continue_to_next_step(page)
    expect(page).to_have_url(re.compile(r"/onboarding/review/$"))
    page.get_by_role("button", name=re.compile("Finish and see recommendations")).click()

    # Recommendations, with reasons; adopt Cyber Essentials.
    expect(page).to_have_url(re.compile(r"/recommendations/$"))
    content = page.content()
    assert "public sector" in content
    assert "SAQ B" in content
    screenshot(page, "journey-04-recommendations")
    page.get_by_role("button", name="Adopt Cyber Essentials").click()
    page.wait_for_load_state("networkidle")

    # Answer the first Cyber Essentials control; autosave confirms it.
    page.goto(f"{base}/assessment/cyber-essentials/")
    first = page.locator("form[action*='/assessment/answers/']").first
    first.locator("label.answer-choice-implemented").click()
    first.get_by_text("Saved").wait_for()
    screenshot(page, "journey-05-assessment")

    page.goto(f"{base}/")
    content = page.content()
    assert "Cyber Essentials" in content
    assert re.search(r"\d+(\.\d)?%", content)
    screenshot(page, "journey-06-dashboard")
    assert page.console_errors == [], page.console_errors
