"""Reports in a real browser: a readiness report asked for, built, opened and downloaded as a PDF, an
earlier failure shown with its reason, and the exports offered beside them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from assessments.models import ReportStatus
from assessments.tests.factories import ReportRunFactory
from tests.browser.conftest import screenshot
from tests.browser.test_evidence import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_report_and_download_it(live_server, page):
    organisation = OrganisationFactory(name="Browser Bakery Ltd")
    owner = UserFactory(email="owner@browser-bakery.example", full_name="Ada Baker")
    MembershipFactory(organisation=organisation, user=owner, role=Role.OWNER)
    ReportRunFactory(
        organisation=organisation,
        status=ReportStatus.FAILED,
        error="The storage was full, so nothing was saved.",
        requested_by=owner,
        created_at=timezone.now() - timedelta(days=2),
    )
    sign_in(page, live_server.url, owner.email)

    page.goto(f"{live_server.url}/reports/")
    page.get_by_role("button", name="Create readiness report").click()
    # Without a broker the report is built as it is asked for: the run page shows it ready.
    expect(page.get_by_role("heading", name="Your report is ready")).to_be_visible()
    screenshot(page, "reports-02-run-ready")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report").click()
    assert download.value.suggested_filename.startswith("readiness-report-")
    assert PdfReader(download.value.path()).pages

    page.goto(f"{live_server.url}/reports/")
    expect(page.locator("#report-runs").get_by_role("link", name=re.compile("Download"))).to_have_count(1)
    expect(page.get_by_text("The storage was full, so nothing was saved.")).to_be_visible()
    expect(page.get_by_text("Statement of Applicability").first).to_be_visible()
    screenshot(page, "reports-01-list")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "reports-03-list-narrow")
    assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
