"""Exporting a conversation: Markdown a person can read, JSON with everything stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from chat.exporting import conversation_json, conversation_markdown
from chat.models import Conversation, MessageRole
from chat.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

ASKED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
EXPORTED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GDPR_33 = {
    "kind": "control",
    "framework": "uk-gdpr",
    "ref": "33",
    "title": "Notifying a breach to the ICO",
    "url": "/library/uk-gdpr/33/",
}


@pytest.fixture
def exported_on_21_november(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: EXPORTED)


@pytest.fixture
def conversation(personas):
    personas.member.full_name = "Priya Shah"
    personas.member.save(update_fields=["full_name"])
    conversation = ConversationFactory(
        organisation=personas.organisation,
        user=personas.member,
        title="Telling the ICO about a stolen laptop",
        created_at=ASKED,
        escalated_at=ASKED.replace(hour=10),
        escalation_note="It was encrypted.",
    )
    question = MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        content="A laptop was stolen. Must we tell the ICO?",
        created_at=ASKED,
    )
    MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        reply_to=question,
        content="Report within **72 hours** unless the risk is unlikely.",
        citations=[
            GDPR_33,
            {"kind": "policy", "framework": "", "ref": "7", "title": "Data breach policy", "url": "/policies/7/"},
        ],
        provider="gemini",
        model="gemini-2.5-flash",
        tokens_in=1200,
        tokens_out=300,
        latency_ms=840,
        rating=1,
        feedback="Clear",
        created_at=ASKED.replace(minute=31),
    )
    MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        role=MessageRole.CONSULTANT,
        author=UserFactory(full_name="Tom Adviser"),
        reply_to=question,
        content="Encrypted with the key kept apart: no report needed.",
        created_at=ASKED.replace(hour=11),
    )
    return conversation


def test_markdown_reads_as_the_conversation_with_numbered_linked_sources(conversation, exported_on_21_november):
    text = conversation_markdown(conversation)

    assert text.startswith("# Telling the ICO about a stolen laptop\n")
    assert "- Organisation: Acme Bakery Ltd" in text
    assert "- Exported: 21 November 2026" in text
    assert "> It was encrypted." in text
    # In the site's time zone (Europe/London, GMT in November), in the order said.
    assert text.index("## Priya Shah · 20 November 2026, 09:30") < text.index("## Assistant · 20 November 2026, 09:31")
    assert text.index("## Assistant") < text.index("## Consultant (Tom Adviser) · 20 November 2026, 11:30")
    assert "Report within **72 hours** unless the risk is unlikely." in text
    assert "1. [UK GDPR 33 Notifying a breach to the ICO](/library/uk-gdpr/33/)" in text
    assert "2. [policy 7 Data breach policy](/policies/7/)" in text
    assert "*Rated helpful: “Clear”*" in text


def test_markdown_never_links_outside_greenlight(personas):
    conversation = ConversationFactory(organisation=personas.organisation, user=personas.member)
    MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        citations=[
            {**GDPR_33, "url": "javascript:alert(1)"},
            {**GDPR_33, "ref": "34", "title": "Telling [people]", "url": "//evil.example/x"},
        ],
    )
    text = conversation_markdown(conversation)
    assert "1. UK GDPR 33 Notifying a breach to the ICO\n" in text
    assert "2. UK GDPR 34 Telling [people]\n" in text
    assert "javascript:" not in text
    assert "evil.example" not in text


def test_json_holds_everything_stored_and_serialises(conversation, exported_on_21_november):
    data = json.loads(json.dumps(conversation_json(conversation)))

    assert data["title"] == "Telling the ICO about a stolen laptop"
    assert data["exported_at"] == "2026-11-21T12:00:00+00:00"
    assert data["organisation"]["name"] == "Acme Bakery Ltd"
    assert data["escalation"] == {
        "escalated_at": "2026-11-20T10:30:00+00:00",
        "note": "It was encrypted.",
        "resolved_at": None,
    }
    assert [message["role"] for message in data["messages"]] == ["user", "assistant", "consultant"]
    answer = data["messages"][1]
    assert answer["citations"][0] == GDPR_33
    assert (answer["provider"], answer["model"]) == ("gemini", "gemini-2.5-flash")
    assert (answer["tokens_in"], answer["tokens_out"], answer["latency_ms"]) == (1200, 300, 840)
    assert (answer["rating"], answer["feedback"]) == (1, "Clear")
    assert answer["created_at"] == "2026-11-20T09:31:00+00:00"
    assert answer["reply_to"] == data["messages"][0]["id"]
    assert data["messages"][2]["author"] == "Tom Adviser"


@pytest.mark.parametrize("extra", [0, 15])
def test_exports_take_constant_queries(conversation, django_assert_num_queries, extra):
    for _ in range(extra):
        MessageFactory(
            organisation=conversation.organisation,
            conversation=conversation,
            role=MessageRole.CONSULTANT,
            author=UserFactory(),
            citations=[GDPR_33],
        )
    fresh = Conversation.objects.get(pk=conversation.pk)  # nothing cached: the export loads what it needs
    with django_assert_num_queries(3):
        conversation_markdown(fresh)
    fresh = Conversation.objects.get(pk=conversation.pk)
    with django_assert_num_queries(3):
        conversation_json(fresh)
