"""Evidence in a real browser: several files chosen at once, each uploaded with its own progress, a
refused file explained while the others are stored, an exact duplicate offered back before uploading,
then the register, the item page and a download."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, MembershipFactory, OrganisationFactory, UserFactory
from evidence.models import Evidence
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = b"user,two_step\nana@bakery.example,yes\nben@bakery.example,yes\n"
WINDOWS_PROGRAM = b"MZ\x90\x00" + b"\x00" * 200


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def test_upload_several_files_see_refusals_and_duplicates(live_server, page, tmp_path):
    organisation = OrganisationFactory(name="Browser Bakery Ltd")
    owner = UserFactory(email="owner@browser-bakery.example")
    MembershipFactory(organisation=organisation, user=owner, role=Role.OWNER)
    sign_in(page, live_server.url, owner.email)

    export = tmp_path / "two-step-export.csv"
    export.write_bytes(CSV)
    program = tmp_path / "invoice.pdf"
    program.write_bytes(WINDOWS_PROGRAM)

    page.goto(f"{live_server.url}/evidence/new/")
    page.locator("input[type=file][multiple]").set_input_files([str(export), str(program)])
    rows = page.locator(".upload-row")
    expect(rows).to_have_count(2)
    page.locator("[data-upload-start]").click()
    summary = page.locator("[data-upload-summary]")
    expect(summary).to_have_text(re.compile("Finished: 1 added, 1 not added"))
    expect(rows.nth(1)).to_contain_text("program")  # the refusal says what the file really is
    screenshot(page, "evidence-01-upload-results")
    assert list(Evidence.objects.filter(organisation=organisation).values_list("title", flat=True)) == [
        "two step export"
    ]

    # The same file again is recognised before it is sent.
    page.goto(f"{live_server.url}/evidence/new/")
    page.locator("input[type=file][multiple]").set_input_files([str(export)])
    page.locator("[data-upload-start]").click()
    expect(page.get_by_text(re.compile("This looks like “two step export”"))).to_be_visible()
    screenshot(page, "evidence-02-duplicate")
    assert Evidence.objects.filter(organisation=organisation).count() == 1

    # The register lists it; its page offers the download.
    page.goto(f"{live_server.url}/evidence/")
    expect(page.get_by_role("link", name="two step export")).to_be_visible()
    screenshot(page, "evidence-03-register")
    page.get_by_role("link", name="two step export").click()
    expect(page.get_by_role("heading", name="two step export")).to_be_visible()
    expect(page.get_by_text("Quality")).to_be_visible()
    with page.expect_download() as download:
        page.locator("a[href*='/download/']").first.click()
    assert download.value.suggested_filename == "two-step-export.csv"
    screenshot(page, "evidence-04-item")
    # The refused file's 400 is the answer the page expects (it shows the reason); nothing else failed.
    unexpected = [error for error in page.console_errors if "status of 400" not in error]
    assert unexpected == [], unexpected
