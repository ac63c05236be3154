"""The assistant's services: conversations are private, feedback and escalation are recorded."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.audit import Actor
from accounts.models import AuditEvent, Notification
from chat import services
from chat.models import Conversation, Message, MessageRole
from chat.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(personas):
    return ConversationFactory(organisation=personas.organisation, user=personas.member)


def test_a_conversation_is_titled_from_its_first_question(personas):
    question = "How long do we have to tell the ICO about a data breach that exposed customers' card details?"
    conversation = services.conversation_start(
        organisation=personas.organisation, actor=Actor(user=personas.member), question=question
    )
    assert conversation.user == personas.member
    assert conversation.title.startswith("How long do we have to tell the ICO")
    assert len(conversation.title) <= services.TITLE_CHARS


def test_outsiders_cannot_start_a_conversation(personas):
    with pytest.raises(PermissionDenied):
        services.conversation_start(
            organisation=personas.organisation, actor=Actor(user=personas.outsider), question="Hello?"
        )


def test_questions_must_be_sensible_sizes(personas, conversation):
    with pytest.raises(ValidationError):
        services.clean_question("   ")
    with pytest.raises(ValidationError):
        services.clean_question("x" * (services.MAX_QUESTION_CHARS + 1))


def test_only_its_owner_renames_or_deletes_a_conversation(personas, conversation):
    with pytest.raises(PermissionDenied):
        services.conversation_rename(conversation=conversation, actor=Actor(user=personas.owner), title="Mine now")
    services.conversation_rename(conversation=conversation, actor=Actor(user=personas.member), title="  Breaches ")
    assert Conversation.objects.get(pk=conversation.pk).title == "Breaches"
    MessageFactory(organisation=personas.organisation, conversation=conversation)
    with pytest.raises(PermissionDenied):
        services.conversation_delete(conversation=conversation, actor=Actor(user=personas.admin))
    services.conversation_delete(conversation=conversation, actor=Actor(user=personas.member))
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()


def test_answers_take_thumbs_up_or_down_with_a_comment(personas, conversation):
    answer = MessageFactory(organisation=personas.organisation, conversation=conversation, role=MessageRole.ASSISTANT)
    services.message_rate(message=answer, actor=Actor(user=personas.member), rating=-1, comment=" Wrong article ")
    answer.refresh_from_db()
    assert (answer.rating, answer.feedback) == (-1, "Wrong article")
    with pytest.raises(ValidationError):
        services.message_rate(message=answer, actor=Actor(user=personas.member), rating=5)
    question = MessageFactory(organisation=personas.organisation, conversation=conversation, role=MessageRole.USER)
    with pytest.raises(ValidationError):
        services.message_rate(message=question, actor=Actor(user=personas.member), rating=1)


def test_escalation_notifies_the_consultants_once(personas, conversation):
    notified = services.conversation_escalate(
        conversation=conversation, actor=Actor(user=personas.member), note="Is this right for a charity?"
    )
    assert notified >= 1
    assert Notification.objects.filter(user=personas.consultant, kind="assistant_escalation").count() == 1
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="assistant.escalated").exists()
    with pytest.raises(ValidationError):
        services.conversation_escalate(conversation=conversation, actor=Actor(user=personas.member))


def test_the_organisation_is_limited_in_questions_per_minute(personas, settings):
    for _ in range(services.QUESTIONS_PER_MINUTE):
        services._throttle(personas.organisation)
    with pytest.raises(services.TooManyQuestions):
        services._throttle(personas.organisation)
    # Another organisation has its own allowance.
    services._throttle(personas.other_organisation)


def test_a_question_is_answered_offline_with_citations_that_exist(personas, conversation):
    from compliance.search import index_framework
    from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory

    framework = FrameworkFactory(slug="uk-gdpr", name="UK GDPR")
    ControlFactory(
        group=ControlGroupFactory(framework=framework),
        ref="33",
        title="Notification of a personal data breach to the Commissioner",
        guidance="Report a personal data breach to the ICO within 72 hours of becoming aware of it.",
    )
    index_framework(framework)
    answer = services.question_ask(
        conversation=conversation, actor=Actor(user=personas.member), question="How fast must we report a breach?"
    )
    assert answer.role == MessageRole.ASSISTANT
    assert answer.provider == "offline"
    assert [(c["framework"], c["ref"]) for c in answer.citations] == [("uk-gdpr", "33")]
    assert "72 hours" in answer.content
    roles = list(conversation.messages.values_list("role", flat=True))
    assert roles == [MessageRole.USER, MessageRole.ASSISTANT]
    with pytest.raises(PermissionDenied):
        services.question_ask(conversation=conversation, actor=Actor(user=personas.owner), question="Mine?")
