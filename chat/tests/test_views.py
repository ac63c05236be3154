"""The assistant's pages: asking with and without htmx, the answer stream, feedback, escalation,
rename, delete and export, privacy between members, and pinned query counts."""

from __future__ import annotations

import inspect
import json
import re

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.urls import reverse

from accounts.models import Notification
from chat import services
from chat.models import Conversation, Message, MessageRole
from chat.tests.factories import ConversationFactory, MessageFactory
from chat.views.streaming import answer_stream

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]

HTMX = {"HTTP_HX_REQUEST": "true"}
# Acme has adopted nothing, so the starter questions need only the profile and the adoptions.
STARTER_QUERIES = 2
BREACH = "How long do we have to report a personal data breach to the ICO?"


@pytest.fixture
def member_browser(personas, client_for):
    browser = client_for(personas.member)
    browser.get("/")  # settle the session's current organisation
    return browser


def stream_events(user, url: str) -> list[tuple[str, str]]:
    """Read an answer stream to its end through the ASGI request path, as (event, data) pairs."""

    async def read() -> tuple[int, str]:
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get(url)
        if response.status_code != 200:
            return response.status_code, ""
        assert response["Content-Type"] == "text/event-stream"
        chunks = [chunk async for chunk in response.streaming_content]
        return 200, b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks).decode()

    status, body = async_to_sync(read)()
    assert status == 200, status
    events = []
    for block in body.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if lines:
            name = lines[0].removeprefix("event: ")
            events.append((name, "\n".join(line.removeprefix("data: ") for line in lines[1:])))
    return events


def test_the_assistant_page_offers_a_question_box_and_starters(member_browser):
    response = member_browser.get("/assistant/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="question"' in html
    assert "No conversations yet" in html


def test_a_plain_form_post_answers_before_the_page_returns(personas, member_browser):
    response = member_browser.post(reverse("assistant_start"), {"question": BREACH})
    conversation = Conversation.objects.get(user=personas.member)
    assert response.status_code == 302
    assert response["Location"] == conversation.get_absolute_url()
    answer = conversation.messages.get(role=MessageRole.ASSISTANT)
    assert {"framework": "uk-gdpr", "ref": "33"}.items() <= answer.citations[0].items() or any(
        c.get("framework") == "uk-gdpr" and c.get("ref") == "33" for c in answer.citations
    )
    page = member_browser.get(conversation.get_absolute_url()).content.decode()
    assert "UK GDPR 33" in page
    assert reverse("control_detail", args=["uk-gdpr", "33"]) in page
    assert "data-stream-url" not in page  # nothing left to answer


def test_with_htmx_the_question_is_stored_and_the_answer_streamed(personas, member_browser):
    response = member_browser.post(reverse("assistant_start"), {"question": BREACH}, **HTMX)
    conversation = Conversation.objects.get(user=personas.member)
    assert response["HX-Redirect"] == conversation.get_absolute_url()
    question = conversation.messages.get()
    assert question.role == MessageRole.USER

    page = member_browser.get(conversation.get_absolute_url()).content.decode()
    stream_url = reverse("assistant_answer_stream", args=[conversation.pk, question.pk])
    assert f'data-stream-url="{stream_url}"' in page

    events = stream_events(personas.member, stream_url)
    names = [name for name, _ in events]
    assert names[0] == "status"
    assert names[-1] == "answer"
    statuses = [data for name, data in events if name == "status"]
    assert any(status.startswith("Found") and "UK GDPR 33" in status for status in statuses)
    answer = Message.objects.get(reply_to=question, role=MessageRole.ASSISTANT)
    assert f'id="message-{answer.pk}"' in events[-1][1]
    assert "UK GDPR 33" in events[-1][1]


def test_a_repeated_stream_sends_the_stored_answer_instead_of_answering_again(personas, member_browser):
    member_browser.post(reverse("assistant_start"), {"question": BREACH}, **HTMX)
    question = Message.objects.get(role=MessageRole.USER)
    url = reverse("assistant_answer_stream", args=[question.conversation_id, question.pk])
    first = stream_events(personas.member, url)[-1][1]
    second = stream_events(personas.member, url)[-1][1]
    answer = Message.objects.get(role=MessageRole.ASSISTANT)
    assert f'id="message-{answer.pk}"' in first
    assert f'id="message-{answer.pk}"' in second
    assert Message.objects.filter(role=MessageRole.ASSISTANT).count() == 1


def test_the_stream_is_an_async_view_so_a_slow_answer_holds_no_worker():
    assert inspect.iscoroutinefunction(answer_stream)


def test_a_follow_up_with_htmx_returns_the_question_a_placeholder_and_a_fresh_form(personas, member_browser):
    conversation = ConversationFactory(organisation=personas.organisation, user=personas.member)
    response = member_browser.post(
        reverse("assistant_ask", args=[conversation.pk]), {"question": "And what about Cyber Essentials?"}, **HTMX
    )
    html = response.content.decode()
    question = conversation.messages.get()
    assert "And what about Cyber Essentials?" in html
    assert reverse("assistant_answer_stream", args=[conversation.pk, question.pk]) in html
    assert 'hx-swap-oob="outerHTML"' in html
    assert "</textarea>" in html


def test_an_empty_or_oversized_question_is_refused_in_the_page(personas, member_browser):
    conversation = ConversationFactory(organisation=personas.organisation, user=personas.member)
    url = reverse("assistant_ask", args=[conversation.pk])
    response = member_browser.post(url, {"question": "   "})
    assert response.status_code == 400
    assert "Type a question first." in response.content.decode()
    long_question = "x" * (services.MAX_QUESTION_CHARS + 1)
    response = member_browser.post(url, {"question": long_question}, **HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx: the error is in the fragment
    assert response["HX-Retarget"] == "#ask-form"
    assert "at most 4,000 characters" in response.content.decode()
    assert long_question in response.content.decode()  # nothing typed is lost
    assert not conversation.messages.exists()


def test_too_many_questions_in_a_minute_are_refused(personas, member_browser, settings):
    conversation = ConversationFactory(organisation=personas.organisation, user=personas.member)
    url = reverse("assistant_ask", args=[conversation.pk])
    for number in range(services.QUESTIONS_PER_MINUTE):
        services.question_store(
            conversation=conversation,
            actor=services.Actor(user=personas.member),
            question=f"Question {number}",
        )
    response = member_browser.post(url, {"question": "One more?"})
    assert response.status_code == 429
    assert "Please wait a moment" in response.content.decode()


def test_another_members_conversation_is_invisible(personas, client_for):
    conversation = ConversationFactory(organisation=personas.organisation, user=personas.member)
    question = MessageFactory(organisation=personas.organisation, conversation=conversation)
    answer = MessageFactory(
        organisation=personas.organisation, conversation=conversation, role=MessageRole.ASSISTANT, reply_to=question
    )
    colleague = client_for(personas.owner)
    for url in [
        reverse("assistant_conversation", args=[conversation.pk]),
        reverse("assistant_export", args=[conversation.pk]),
    ]:
        assert colleague.get(url).status_code == 404
    for url in [
        reverse("assistant_ask", args=[conversation.pk]),
        reverse("assistant_rename", args=[conversation.pk]),
        reverse("assistant_delete", args=[conversation.pk]),
        reverse("assistant_escalate", args=[conversation.pk]),
        reverse("assistant_answer", args=[conversation.pk, question.pk]),
        reverse("assistant_rate", args=[answer.pk]),
        reverse("assistant_proposal", args=[answer.pk]),
    ]:
        assert colleague.post(url, {"question": "Hi", "title": "Mine", "rating": "1"}).status_code == 404
    assert Conversation.objects.filter(pk=conversation.pk, title=conversation.title).exists()

    async def stream_status() -> int:
        client = AsyncClient()
        await client.aforce_login(personas.owner)
        response = await client.get(reverse("assistant_answer_stream", args=[conversation.pk, question.pk]))
        return response.status_code

    assert async_to_sync(stream_status)() == 404


def test_rename_delete_and_export(personas, member_browser):
    member_browser.post(reverse("assistant_start"), {"question": BREACH})
    conversation = Conversation.objects.get(user=personas.member)
    response = member_browser.post(
        reverse("assistant_rename", args=[conversation.pk]), {"title": "Breach deadlines"}, **HTMX
    )
    assert '<h1 id="conversation-title">Breach deadlines</h1>' in response.content.decode()

    markdown = member_browser.get(reverse("assistant_export", args=[conversation.pk]))
    assert markdown["Content-Type"].startswith("text/markdown")
    assert 'filename="breach-deadlines-' in markdown["Content-Disposition"]
    assert BREACH in markdown.content.decode()
    assert "UK GDPR 33" in markdown.content.decode()
    exported = json.loads(
        member_browser.get(reverse("assistant_export", args=[conversation.pk]) + "?format=json").content
    )
    assert [message["role"] for message in exported["messages"]] == ["user", "assistant"]

    response = member_browser.post(reverse("assistant_delete", args=[conversation.pk]))
    assert response["Location"] == reverse("assistant")
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()


def test_thumbs_down_asks_what_was_wrong_and_keeps_the_comment(personas, member_browser):
    member_browser.post(reverse("assistant_start"), {"question": BREACH})
    answer = Message.objects.get(role=MessageRole.ASSISTANT)
    url = reverse("assistant_rate", args=[answer.pk])
    html = member_browser.post(url, {"rating": "-1"}, **HTMX).content.decode()
    assert "What was wrong or missing?" in html
    html = member_browser.post(url, {"rating": "-1", "comment": "It missed the 72 hours."}, **HTMX).content.decode()
    assert "Comment saved." in html
    answer.refresh_from_db()
    assert (answer.rating, answer.feedback) == (-1, "It missed the 72 hours.")
    assert member_browser.post(url, {"rating": "7"}, **HTMX).content.decode().count('role="alert"') == 1


def test_asking_a_consultant_notifies_them_and_shows_on_the_page(personas, member_browser):
    member_browser.post(reverse("assistant_start"), {"question": BREACH})
    conversation = Conversation.objects.get(user=personas.member)
    response = member_browser.post(
        reverse("assistant_escalate", args=[conversation.pk]), {"note": "We are a bakery with 12 staff."}, follow=True
    )
    assert "Sent to your consultant" in response.content.decode()
    assert "You sent this conversation to your consultants" in response.content.decode()
    assert Notification.objects.filter(user=personas.consultant, kind="assistant_escalation").exists()


def test_a_request_to_act_is_only_a_proposal_until_confirmed(personas, member_browser):
    from policies.models import Policy

    member_browser.post(reverse("assistant_start"), {"question": "Please draft an incident response policy for us"})
    answer = Message.objects.get(role=MessageRole.ASSISTANT)
    assert answer.proposal_status == "pending"
    assert not Policy.objects.exists()
    page = member_browser.get(answer.conversation.get_absolute_url()).content.decode()
    assert "Nothing is changed until you confirm." in page
    html = member_browser.post(
        reverse("assistant_proposal", args=[answer.pk]), {"action": "confirm"}, **HTMX
    ).content.decode()
    policy = Policy.objects.get(organisation=personas.organisation)
    assert "Done" in html
    assert reverse("policy_detail", args=[policy.pk]) in html
    again = member_browser.post(reverse("assistant_proposal", args=[answer.pk]), {"action": "confirm"}, **HTMX)
    assert 'role="alert"' in again.content.decode()
    assert Policy.objects.count() == 1


@pytest.mark.parametrize("count", [1, 40])
def test_the_assistant_page_does_not_grow_with_conversations(
    personas, member_browser, django_assert_num_queries, count
):
    ConversationFactory.create_batch(count, organisation=personas.organisation, user=personas.member)
    member_browser.get("/assistant/")
    # session, user, memberships; a page of conversations and their count; the starter questions' QUERIES
    with django_assert_num_queries(5 + STARTER_QUERIES):
        member_browser.get("/assistant/")


@pytest.mark.parametrize("exchanges", [1, 15])
def test_a_conversation_page_does_not_grow_with_messages(
    personas, member_browser, django_assert_num_queries, exchanges
):
    conversation = ConversationFactory(organisation=personas.organisation, user=personas.member)
    for _ in range(exchanges):
        question = MessageFactory(organisation=personas.organisation, conversation=conversation)
        MessageFactory(
            organisation=personas.organisation,
            conversation=conversation,
            role=MessageRole.ASSISTANT,
            reply_to=question,
            citations=[{"kind": "control", "framework": "uk-gdpr", "ref": "33", "title": "Breach", "url": "/x/"}],
        )
    url = conversation.get_absolute_url()
    member_browser.get(url)
    # session, user, memberships; the conversation; its messages; the conversation list and its count
    with django_assert_num_queries(7):
        html = member_browser.get(url).content.decode()
    assert len(re.findall(r'class="chat-message chat-assistant"', html)) == exchanges
