"""The whole SMB journey in one real browser session, then the consultant's review in the admin.

A new owner signs up, confirms the address from the email, creates the organisation, describes the
business, adopts the recommended framework, answers the assessment, reads readiness and gaps, completes a
plan task, drafts, approves and publishes a policy (and leaves a second one for the consultant), uploads
evidence, asks the assistant and downloads the readiness report. A consultant invited through the product
then reviews the waiting policy and evidence in the admin, and the owner sees the consultant's comments.
Every main page is screenshotted as `journey-full-NN-<page>.png` and must log no console error.
"""

from __future__ import annotations

import re
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from PIL import Image, ImageDraw
from playwright.sync_api import FloatRect, Page, expect
from pypdf import PdfReader

from tests.browser.conftest import SCREENSHOTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # The live test server is WSGI, which buffers the assistant's async event stream before sending it
    # (tests/browser/test_assistant.py says more); the answer still arrives whole.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]

ORGANISATION = "Harbour Bakery Ltd"
OWNER_EMAIL = "owner@harbour-bakery.example"
CONSULTANT_EMAIL = "adviser@compliance-partners.example"
PASSWORD = "a-long-and-unusual-passphrase"
FIRST_POLICY = "Information Security Policy"
SECOND_POLICY = "Incident Response and Personal Data Breach Policy"
POLICY_COMMENT = "Approved: name the person who calls the ICO in section 2 at the next review."
EVIDENCE_COMMENT = "Accepted: the screenshot shows the setting in place."
EVIDENCE_FILE = "settings-screenshot.png"
EVIDENCE_TITLE = "settings screenshot"  # titled from the file name
MAX_SHOT_HEIGHT = 4000


class Journey:
    """Numbers the screenshots in the order the pages are visited, and checks each page's console first."""

    def __init__(self) -> None:
        self.count = 0

    def shot(self, page: Page, name: str) -> None:
        assert page.console_errors == [], (name, page.console_errors)  # type: ignore[attr-defined]
        self.count += 1
        # From the top, or the sticky sidebar is drawn where the page was scrolled to; and no taller than
        # MAX_SHOT_HEIGHT: the assessment is 22,000 pixels, seconds to capture and nothing more to see.
        page.evaluate("window.scrollTo(0, 0)")
        height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_SHOT_HEIGHT)
        width = page.viewport_size["width"] if page.viewport_size else 1366
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"journey-full-{self.count:02d}-{name}.png"),
            full_page=True,
            clip=FloatRect(x=0, y=0, width=width, height=height),
        )


def path_in_last_email(to: str, prefix: str) -> str:
    """The link's path from the last email to `to`: emails point at SITE_URL, the test server is elsewhere."""
    message = next(message for message in reversed(mail.outbox) if to in message.to)
    found = re.search(rf"https?://[^/\s]+({re.escape(prefix)}\S+)", str(message.body))
    assert found, message.body
    return found.group(1)


def png_bytes() -> bytes:
    image = Image.new("RGB", (480, 240), "white")
    ImageDraw.Draw(image).text((20, 100), "Setting switched on for every device", fill="black")
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def continue_to_next_step(page: Page) -> None:
    # Let the autosave requests finish first: the test server's in-memory SQLite takes one writer at a
    # time, where a real deployment's database would not mind.
    page.keyboard.press("Tab")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Continue").click()


def draft_from_template(page: Page, title: str) -> None:
    card = page.locator(".template-card").filter(has=page.get_by_role("heading", name=title, exact=True))
    card.get_by_role("button", name=re.compile("^Draft it")).click()


def test_full_journey_then_the_consultant_review(live_server, page, new_page, tmp_path):
    call_command("load_frameworks", stdout=StringIO())
    base = live_server.url
    journey = Journey()

    # --- Sign up and confirm the address from the email ----------------------------------------------
    page.goto(f"{base}/accounts/signup/")
    journey.shot(page, "sign-up")
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/organisations/new/$"))
    page.goto(base + path_in_last_email(OWNER_EMAIL, "/accounts/confirm-email/"))
    journey.shot(page, "confirm-email")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text(f"You have confirmed {OWNER_EMAIL}")

    # --- The organisation ------------------------------------------------------------------------------
    expect(page).to_have_url(re.compile(r"/organisations/new/$"))
    journey.shot(page, "create-organisation")
    page.get_by_label("Organisation name").fill(ORGANISATION)
    page.get_by_role("button", name="Create organisation").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome to {ORGANISATION}")
    journey.shot(page, "dashboard-new")

    # --- The business profile ----------------------------------------------------------------------------
    page.get_by_role("link", name="Start your business profile").click()
    expect(page).to_have_url(re.compile(r"/onboarding/company/$"))
    page.locator("[name=company_number]").fill("12345678")
    page.locator("[name=sic_section]").select_option("I")
    page.locator("[name=employees_band]").select_option("10-49")
    page.locator("[name=turnover_band]").select_option("100k-1m")
    page.get_by_role("status").filter(has_text="Saved").wait_for()
    journey.shot(page, "profile-company")
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
    journey.shot(page, "profile-review")
    page.get_by_role("button", name=re.compile("Finish and see recommendations")).click()

    # --- Recommendations, each with its reason; adopt Cyber Essentials ---------------------------------
    expect(page).to_have_url(re.compile(r"/recommendations/$"))
    cyber_essentials = page.locator("article.recommendation").filter(
        has=page.get_by_role("heading", name="Cyber Essentials", exact=True)
    )
    expect(cyber_essentials.locator(".reasons")).to_contain_text("public sector")
    journey.shot(page, "recommendations")
    cyber_essentials.get_by_role("button", name="Adopt Cyber Essentials").click()
    expect(cyber_essentials.get_by_text("Adopted", exact=True)).to_be_visible()

    # --- The assessment: several answers through the form, each autosaved -------------------------------
    page.goto(f"{base}/assessment/cyber-essentials/")
    answers = page.locator("form[action*='/assessment/answers/']")
    for index, choice in enumerate(["implemented", "implemented", "partial", "not_implemented"]):
        form = answers.nth(index)
        form.locator(f"label.answer-choice-{choice}").click()
        form.get_by_text("Saved").wait_for()
    expect(page.locator("#assessment-progress")).to_contain_text(re.compile(r"\b4 of \d+ controls answered"))
    page.wait_for_load_state("networkidle")
    journey.shot(page, "assessment")

    # --- Readiness, gaps and the dashboard ----------------------------------------------------------------
    page.goto(f"{base}/readiness/")
    overall = page.locator(".readiness-percent").first
    expect(overall).to_have_text(re.compile(r"^\d+(\.\d)?%$"))
    score = float(overall.inner_text().rstrip("%"))
    assert score > 0  # two controls implemented and one partly
    journey.shot(page, "readiness")
    page.goto(f"{base}/gaps/")
    expect(page.locator(".gap-title").first).to_be_visible()
    journey.shot(page, "gaps")
    page.goto(f"{base}/")
    dashboard_overall = page.locator(".dashboard-overall .dashboard-percent")
    expect(dashboard_overall).to_have_text(re.compile(r"^\d+(\.\d)?%$"))
    assert float(dashboard_overall.inner_text().rstrip("%")) == score
    journey.shot(page, "dashboard-score")

    # --- The plan: build it from the gaps, complete a task on the board -----------------------------------
    page.goto(f"{base}/plan/")
    page.get_by_role("button", name="Build plan from gaps").click()
    expect(page.locator("#plan-summary")).to_contain_text(re.compile(r"[1-9]\d* tasks?"))
    page.get_by_role("link", name="Board", exact=True).click()
    first_card = page.locator("#board-list-todo .task-card").first
    task_title = first_card.locator(".task-card-title").inner_text()
    first_card.get_by_role("button", name=re.compile("Done$")).click()
    done_card = page.locator("#board-list-done .task-card").filter(has_text=task_title)
    expect(done_card).to_be_visible()
    journey.shot(page, "plan-board")
    page.get_by_role("link", name="List", exact=True).click()
    page.get_by_role("link", name=task_title).click()
    expect(page.get_by_role("heading", name="Now update the answers")).to_be_visible()
    journey.shot(page, "task-done")

    # --- Evidence for that task: a small real PNG, submitted for review ----------------------------------
    screenshot_file = tmp_path / EVIDENCE_FILE
    screenshot_file.write_bytes(png_bytes())
    page.locator("#update-answers").get_by_role("link", name="attach evidence").click()
    expect(page).to_have_url(re.compile(r"/evidence/new/"))
    page.locator("input[type=file][multiple]").set_input_files(str(screenshot_file))
    page.get_by_label("Submit for review").check()
    page.locator("[data-upload-start]").click()
    expect(page.locator("[data-upload-summary]")).to_have_text(re.compile("Finished: 1 added"))
    journey.shot(page, "evidence-uploaded")
    page.goto(f"{base}/evidence/")
    expect(page.get_by_role("link", name=EVIDENCE_TITLE)).to_be_visible()
    journey.shot(page, "evidence-register")

    # --- Policies: draft two in the studio, approve and publish one, leave one for the consultant -------
    page.goto(f"{base}/policies/")
    journey.shot(page, "policies")
    draft_from_template(page, FIRST_POLICY)
    expect(page.get_by_role("heading", level=1)).to_have_text(FIRST_POLICY)
    expect(page.locator(".policy-section").first).to_be_visible()
    journey.shot(page, "policy-draft")
    # The draft was written as it was asked for (Celery runs eagerly here), so the drafting job's own
    # page shows where it ended. Its id is read once the page has stopped talking to the server: the test
    # server's in-memory SQLite connection is shared with this thread.
    page.wait_for_load_state("networkidle")
    from policies.models import GenerationJob

    job = GenerationJob.objects.get(policy__title=FIRST_POLICY)
    page.goto(f"{base}/policies/jobs/{job.pk}/")
    expect(page.get_by_role("heading", name="Draft ready")).to_be_visible()
    expect(page.locator(".job-message")).to_contain_text("version 1")
    journey.shot(page, "policy-drafting-progress")
    page.get_by_role("link", name="Read the draft").click()
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_text(f"Sent “{FIRST_POLICY}” for review")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Approved “{FIRST_POLICY}”")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".policy-facts .badge")).to_have_text("Published")
    journey.shot(page, "policy-published")

    page.goto(f"{base}/policies/")
    draft_from_template(page, SECOND_POLICY)
    expect(page.get_by_role("heading", level=1)).to_have_text(SECOND_POLICY)
    page.get_by_role("button", name="Send for review").click()
    expect(page.locator(".policy-facts .badge")).to_have_text("In review")
    journey.shot(page, "policy-in-review")

    # --- The assistant: a question answered with its citation ---------------------------------------------
    page.goto(f"{base}/assistant/")
    page.get_by_label("Ask a question").fill("How long do we have to report a personal data breach to the ICO?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator(".chat-message.chat-assistant").first
    expect(answer.locator(".chat-sources")).to_contain_text("UK GDPR 33")
    expect(answer).to_contain_text("72 hours")
    expect(page.locator(".chat-pending")).to_have_count(0)
    journey.shot(page, "assistant-answer")

    # --- The readiness report: built, then downloaded as a PDF naming the organisation ---------------------
    page.goto(f"{base}/reports/")
    journey.shot(page, "reports")
    page.get_by_role("button", name="Create readiness report").click()
    expect(page.get_by_role("heading", name="Your report is ready")).to_be_visible()
    journey.shot(page, "report-ready")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report").click()
    report = Path(download.value.path())
    assert report.read_bytes().startswith(b"%PDF")
    text = "\n".join(report_page.extract_text() for report_page in PdfReader(report).pages)
    assert ORGANISATION in text

    # --- The owner invites the consultant --------------------------------------------------------------------
    page.goto(f"{base}/settings/members/")
    invitations = page.locator("#invitations")
    invitations.get_by_label("Email address").fill(CONSULTANT_EMAIL)
    invitations.get_by_label("Role").select_option("consultant")
    invitations.get_by_role("button", name="Send invitation").click()
    expect(invitations.get_by_role("cell", name=CONSULTANT_EMAIL)).to_be_visible()
    journey.shot(page, "members-invited")
    invitation = base + path_in_last_email(CONSULTANT_EMAIL, "/invitations/")

    # --- The consultant: account, invitation, then the admin ------------------------------------------------
    adviser = new_page()
    adviser.goto(invitation)
    adviser.get_by_role("link", name="Create an account").click()
    adviser.get_by_label("Email").fill(CONSULTANT_EMAIL)
    adviser.get_by_label("Password", exact=True).fill(PASSWORD)
    adviser.get_by_label("Confirm password").fill(PASSWORD)
    adviser.get_by_role("button", name="Create account").click()
    expect(adviser.get_by_role("heading", name=f"Join {ORGANISATION}")).to_be_visible()
    journey.shot(adviser, "consultant-invitation")
    adviser.get_by_role("button", name="Accept and join").click()
    expect(adviser.get_by_text(f"Welcome to {ORGANISATION}.")).to_be_visible()

    adviser.goto(f"{base}/admin/")
    journey.shot(adviser, "admin-index")
    adviser.get_by_role("link", name="Open your clients").click()
    client_row = adviser.get_by_role("row").filter(has_text=ORGANISATION)
    expect(client_row).to_contain_text("Cyber Essentials")
    journey.shot(adviser, "admin-clients")
    client_row.get_by_role("link", name=ORGANISATION).click()
    expect(adviser.get_by_role("heading", name="Readiness")).to_be_visible()
    journey.shot(adviser, "admin-client-detail")

    adviser.get_by_role("link", name="Review policies").click()
    adviser.get_by_role("link", name=SECOND_POLICY).click()
    expect(adviser.locator("#policy-text")).to_contain_text("Version 1")
    expect(adviser.locator(".policy-text h3").first).to_be_visible()  # the text as the app renders it
    expect(adviser.locator("#policy-changes ~ .form-row").first).to_contain_text("first version")
    journey.shot(adviser, "admin-policy-review")
    adviser.get_by_label("Comment").fill(POLICY_COMMENT)
    adviser.get_by_role("button", name="Approve").click()
    expect(adviser.get_by_text(f"Approved “{SECOND_POLICY}” for {ORGANISATION}")).to_be_visible()
    journey.shot(adviser, "admin-policy-approved")

    adviser.goto(f"{base}/admin/clients/")
    adviser.get_by_role("link", name=ORGANISATION).click()
    adviser.get_by_role("link", name="Review evidence").click()
    adviser.get_by_role("link", name=EVIDENCE_TITLE).click()
    expect(adviser.get_by_alt_text(f"Preview of {EVIDENCE_FILE}")).to_be_visible()
    journey.shot(adviser, "admin-evidence-review")
    adviser.get_by_label("Comment").fill(EVIDENCE_COMMENT)
    adviser.get_by_role("button", name="Accept").click()
    expect(adviser.locator(".messagelist")).to_contain_text(f"Accepted “{EVIDENCE_TITLE}” for {ORGANISATION}.")
    journey.shot(adviser, "admin-evidence-accepted")

    # --- Back as the owner: the consultant's decisions and comments are there ------------------------------
    page.goto(f"{base}/policies/")
    page.get_by_role("link", name=SECOND_POLICY).click()
    expect(page.locator(".policy-facts .badge")).to_have_text("Approved")
    expect(page.locator(".review-comment")).to_have_text(POLICY_COMMENT)
    journey.shot(page, "owner-policy-approved")
    page.goto(f"{base}/evidence/")
    page.get_by_role("link", name=EVIDENCE_TITLE).click()
    review = page.locator("#review")
    expect(review).to_contain_text("Accepted by")
    expect(review.locator(".review-comment")).to_have_text(EVIDENCE_COMMENT)
    journey.shot(page, "owner-evidence-accepted")
