"""The assistant in a real browser: a question asked, its answer streamed into the page with the exact
UK GDPR article cited, a thumbs-down with a comment, and a request to act that waits for confirmation."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from assessments.models import PlanTask
from chat.models import Message, MessageRole
from tests.browser.conftest import screenshot
from tests.browser.test_evidence import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # The live test server is WSGI, which buffers the async event stream before sending it; production and
    # `make run` are ASGI and stream it (chat/tests/test_views.py reads the stream through ASGI).
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


def test_ask_see_the_answer_stream_in_rate_it_and_confirm_a_proposal(live_server, page):
    call_command("load_frameworks", stdout=StringIO())
    organisation = OrganisationFactory(name="Browser Bakery Ltd")
    owner = UserFactory(email="owner@browser-bakery.example")
    MembershipFactory(organisation=organisation, user=owner, role=Role.OWNER)
    sign_in(page, live_server.url, owner.email)

    page.goto(f"{live_server.url}/assistant/")
    page.get_by_label("Ask a question").fill("How long do we have to report a personal data breach to the ICO?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page).to_have_url(re.compile(r"/assistant/\d+/$"))
    answer = page.locator(".chat-message.chat-assistant").first
    expect(answer.locator(".chat-sources")).to_contain_text("UK GDPR 33")
    expect(answer).to_contain_text("72 hours")
    expect(page.locator(".chat-pending")).to_have_count(0)
    screenshot(page, "assistant-01-answer")

    answer.get_by_role("button", name="No").click()
    answer.get_by_label("What was wrong or missing?").fill("I wanted to know who to call first.")
    answer.get_by_role("button", name="Send comment").click()
    expect(answer.get_by_text("Comment saved.")).to_be_visible()
    stored = Message.objects.get(organisation=organisation, role=MessageRole.ASSISTANT)
    assert (stored.rating, stored.feedback) == (-1, "I wanted to know who to call first.")

    page.get_by_label("Ask a follow-up question").fill("Add a task to enable MFA on every staff email account")
    page.keyboard.press("Control+Enter")
    proposal = page.locator(".chat-proposal")
    expect(proposal).to_contain_text("Nothing is changed until you confirm.")
    assert not PlanTask.objects.filter(organisation=organisation).exists()
    screenshot(page, "assistant-02-proposal")
    proposal.get_by_role("button", name="Confirm").click()
    expect(page.locator(".chat-proposal")).to_contain_text("Done")
    assert PlanTask.objects.filter(organisation=organisation, title__icontains="MFA").count() == 1
    assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
