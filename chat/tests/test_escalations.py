""" "Ask a consultant", the consultant's side: replies, resolving, and the admin queue's privacy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditEvent, Notification
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, UserFactory
from chat.escalations import escalation_reply, escalation_resolve, escalations_for, open_escalations
from chat.models import Conversation, Message, MessageRole
from chat.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def escalate(conversation: Conversation, *, hours_ago: int = 1, note: str = "") -> Conversation:
    conversation.escalated_at = timezone.now() - timedelta(hours=hours_ago)
    conversation.escalation_note = note
    conversation.save(update_fields=["escalated_at", "escalation_note"])
    return conversation


@pytest.fixture
def escalated(personas):
    conversation = ConversationFactory(
        organisation=personas.organisation, user=personas.member, title="Do we need to tell the ICO?"
    )
    question = MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        content="A laptop with customer emails was stolen. Do we report it?",
        created_at=timezone.now() - timedelta(minutes=10),
    )
    MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        reply_to=question,
        content="Probably: report within 72 hours unless the risk is unlikely.",
        citations=[
            {
                "kind": "control",
                "framework": "uk-gdpr",
                "ref": "33",
                "title": "Notifying a breach to the ICO",
                "url": "/library/uk-gdpr/33/",
            }
        ],
        rating=-1,
        feedback="It did not say whether encryption changes things",
        created_at=timezone.now() - timedelta(minutes=9),
    )
    return escalate(conversation, note="The laptop was encrypted; does that change anything?")


@pytest.fixture
def unescalated(personas):
    return ConversationFactory(
        organisation=personas.organisation, user=personas.member, title="Private musings on passwords"
    )


@pytest.fixture
def elsewhere(personas):
    """An escalation of the other organisation, with a consultant of its own."""
    conversation = escalate(
        ConversationFactory(
            organisation=personas.other_organisation, user=personas.outsider, title="Rival's SOC 2 worries"
        )
    )
    MembershipFactory(
        organisation=personas.other_organisation, role=Role.CONSULTANT, user=UserFactory(email="adviser@rival.example")
    )
    return conversation


@pytest.fixture
def staff_consultant(personas):
    personas.consultant.is_staff = True
    personas.consultant.save(update_fields=["is_staff"])
    return personas.consultant


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


# --- services ----------------------------------------------------------------------------------------


def test_a_consultants_reply_answers_the_last_question_resolves_and_tells_the_member(personas, escalated):
    follow_up = MessageFactory(
        organisation=personas.organisation, conversation=escalated, content="And if it was encrypted?"
    )

    reply = escalation_reply(
        conversation=escalated, actor=Actor(user=personas.consultant), text="  Encrypted and the key safe: no.  "
    )

    assert (reply.role, reply.author, reply.reply_to, reply.content) == (
        MessageRole.CONSULTANT,
        personas.consultant,
        follow_up,
        "Encrypted and the key safe: no.",
    )
    escalated.refresh_from_db()
    assert escalated.escalation_resolved_at is not None
    notification = Notification.objects.get(user=personas.member, kind="assistant_reply")
    assert notification.url == reverse("assistant_conversation", args=[escalated.pk])
    assert notification.organisation == personas.organisation
    assert AuditEvent.objects.filter(
        organisation=personas.organisation, action="assistant.escalation_answered", object_id=str(escalated.pk)
    ).exists()


def test_an_empty_reply_is_refused_and_nothing_changes(personas, escalated):
    with pytest.raises(ValidationError):
        escalation_reply(conversation=escalated, actor=Actor(user=personas.consultant), text=" \n ")
    escalated.refresh_from_db()
    assert escalated.escalation_resolved_at is None
    assert not Message.objects.filter(conversation=escalated, role=MessageRole.CONSULTANT).exists()
    assert not Notification.objects.filter(kind="assistant_reply").exists()


@pytest.mark.parametrize("who", ["owner", "admin", "member", "outsider"])
def test_only_the_organisations_consultants_may_answer(personas, escalated, who):
    with pytest.raises(PermissionDenied):
        escalation_reply(conversation=escalated, actor=Actor(user=getattr(personas, who)), text="My view is…")
    with pytest.raises(PermissionDenied):
        escalation_resolve(conversation=escalated, actor=Actor(user=getattr(personas, who)))


def test_a_consultant_of_another_organisation_may_not_answer(personas, escalated, elsewhere):
    adviser = UserFactory(is_staff=True)
    MembershipFactory(organisation=personas.other_organisation, role=Role.CONSULTANT, user=adviser)
    with pytest.raises(PermissionDenied):
        escalation_reply(conversation=escalated, actor=Actor(user=adviser), text="My view is…")


def test_a_superuser_may_answer_any_escalation(elsewhere, superuser):
    escalation_reply(conversation=elsewhere, actor=Actor(user=superuser), text="Start with CC6.")
    assert Message.objects.filter(conversation=elsewhere, role=MessageRole.CONSULTANT, author=superuser).exists()


def test_a_conversation_never_escalated_cannot_be_answered(personas, unescalated):
    with pytest.raises(ValidationError):
        escalation_reply(conversation=unescalated, actor=Actor(user=personas.consultant), text="Unasked advice")
    with pytest.raises(ValidationError):
        escalation_resolve(conversation=unescalated, actor=Actor(user=personas.consultant))


def test_resolving_without_a_reply_is_audited_and_happens_once(personas, escalated):
    escalation_resolve(conversation=escalated, actor=Actor(user=personas.consultant))

    escalated.refresh_from_db()
    assert escalated.escalation_resolved_at is not None
    assert not Message.objects.filter(conversation=escalated, role=MessageRole.CONSULTANT).exists()
    assert AuditEvent.objects.filter(action="assistant.escalation_resolved", object_id=str(escalated.pk)).count() == 1
    with pytest.raises(ValidationError):
        escalation_resolve(
            conversation=Conversation.objects.get(pk=escalated.pk), actor=Actor(user=personas.consultant)
        )


def test_open_escalations_are_those_of_the_consultants_organisations_still_waiting(
    personas, escalated, unescalated, elsewhere, superuser
):
    answered = escalate(ConversationFactory(organisation=personas.organisation, user=personas.member))
    escalation_resolve(conversation=answered, actor=Actor(user=personas.consultant))
    older = escalate(ConversationFactory(organisation=personas.organisation, user=personas.admin), hours_ago=5)

    assert list(open_escalations(personas.consultant)) == [older, escalated]
    assert set(escalations_for(personas.consultant)) == {older, escalated, answered}
    assert set(open_escalations(superuser)) == {older, escalated, elsewhere}
    assert not open_escalations(personas.owner).exists()


# --- the admin queue ---------------------------------------------------------------------------------


def changelist() -> str:
    return reverse("admin:chat_conversation_changelist")


def change(conversation: Conversation) -> str:
    return reverse("admin:chat_conversation_change", args=[conversation.pk])


def test_a_consultant_sees_only_escalations_of_their_organisations(
    client_for, staff_consultant, escalated, unescalated, elsewhere
):
    browser = client_for(staff_consultant)

    page = browser.get(changelist())

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [escalated]
    assert browser.get(change(escalated)).status_code == 200
    for private in (unescalated, elsewhere):
        response = browser.get(change(private), follow=True)
        assert private.title not in response.content.decode()
        assert (
            browser.post(reverse("admin:chat_conversation_reply", args=[private.pk]), {"text": "Hi"}).status_code == 404
        )
    assert not Message.objects.filter(role=MessageRole.CONSULTANT).exists()


def test_superusers_see_every_escalation_but_no_private_conversation(
    client_for, superuser, escalated, unescalated, elsewhere
):
    page = client_for(superuser).get(changelist())
    assert set(page.context["cl"].result_list) == {escalated, elsewhere}
    assert client_for(superuser).get(change(unescalated)).status_code == 302


@pytest.mark.parametrize("who", ["owner", "member"])
def test_staff_who_are_not_consultants_are_refused(personas, client_for, escalated, who):
    user = getattr(personas, who)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    browser = client_for(user)

    assert browser.get(changelist()).status_code == 403
    assert browser.get(change(escalated)).status_code == 403
    assert (
        browser.post(reverse("admin:chat_conversation_reply", args=[escalated.pk]), {"text": "Hi"}).status_code == 403
    )
    assert "chat_conversation" not in browser.get(reverse("admin:index")).content.decode()
    assert not Message.objects.filter(role=MessageRole.CONSULTANT).exists()


def test_the_change_page_shows_the_whole_conversation_read_only(client_for, staff_consultant, escalated):
    page = client_for(staff_consultant).get(change(escalated))

    html = page.content.decode()
    assert "A laptop with customer emails was stolen" in html
    assert '<a href="/library/uk-gdpr/33/">UK GDPR 33 Notifying a breach to the ICO</a>' in html
    assert "Rated not helpful: “It did not say whether encryption changes things”" in html
    assert "The laptop was encrypted; does that change anything?" in html
    assert 'name="text"' in html
    assert "Mark resolved without reply" in html
    assert 'name="title"' not in html  # nothing of the conversation itself is editable
    assert client_for(staff_consultant).post(change(escalated), {"title": "Changed"}).status_code == 403


def test_replying_from_the_queue_stores_the_reply_and_notifies_the_member(
    personas, client_for, staff_consultant, escalated
):
    browser = client_for(staff_consultant)
    url = reverse("admin:chat_conversation_reply", args=[escalated.pk])

    assert browser.get(url).status_code == 405
    response = browser.post(url, {"text": "Encrypted with the key kept apart: no report needed."})

    assert response.status_code == 302
    assert response["Location"] == change(escalated)
    reply = Message.objects.get(conversation=escalated, role=MessageRole.CONSULTANT)
    assert reply.author == staff_consultant
    assert Notification.objects.filter(user=personas.member, kind="assistant_reply").count() == 1
    page = browser.get(change(escalated))
    assert "Encrypted with the key kept apart" in page.content.decode()
    assert "Mark resolved without reply" not in page.content.decode()


def test_an_empty_reply_from_the_queue_is_refused_with_a_message(client_for, staff_consultant, escalated):
    browser = client_for(staff_consultant)
    response = browser.post(reverse("admin:chat_conversation_reply", args=[escalated.pk]), {"text": "   "})

    assert response.status_code == 302
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["This field is required."]
    assert not Message.objects.filter(conversation=escalated, role=MessageRole.CONSULTANT).exists()


def test_marking_resolved_from_the_queue(client_for, staff_consultant, escalated):
    response = client_for(staff_consultant).post(reverse("admin:chat_conversation_resolve", args=[escalated.pk]))

    assert response.status_code == 302
    escalated.refresh_from_db()
    assert escalated.escalation_resolved_at is not None
    assert not Message.objects.filter(conversation=escalated, role=MessageRole.CONSULTANT).exists()


def test_the_queue_lists_the_oldest_waiting_first_and_filters_by_state(
    personas, client_for, staff_consultant, escalated
):
    older = escalate(ConversationFactory(organisation=personas.organisation, user=personas.admin), hours_ago=30)
    answered = escalate(ConversationFactory(organisation=personas.organisation, user=personas.member), hours_ago=50)
    escalation_resolve(conversation=answered, actor=Actor(user=personas.consultant))
    browser = client_for(staff_consultant)

    assert list(browser.get(changelist()).context["cl"].result_list) == [older, escalated, answered]
    assert list(browser.get(changelist(), {"state": "waiting"}).context["cl"].result_list) == [older, escalated]
    assert list(browser.get(changelist(), {"state": "answered"}).context["cl"].result_list) == [answered]
    assert list(browser.get(changelist(), {"q": "ICO?"}).context["cl"].result_list) == [escalated]


def test_conversations_cannot_be_added_or_deleted_in_the_admin(client_for, superuser, escalated):
    browser = client_for(superuser)
    assert browser.get(reverse("admin:chat_conversation_add")).status_code == 403
    assert (
        browser.post(reverse("admin:chat_conversation_delete", args=[escalated.pk]), {"post": "yes"}).status_code == 403
    )
    assert Conversation.objects.filter(pk=escalated.pk).exists()


@pytest.mark.parametrize("extra", [0, 12])
def test_the_queue_lists_in_constant_queries(
    personas, client_for, staff_consultant, escalated, django_assert_num_queries, extra
):
    for _ in range(extra):
        escalate(ConversationFactory(organisation=personas.organisation, user=UserFactory()))
    browser = client_for(staff_consultant)
    browser.get(changelist())

    with django_assert_num_queries(8):
        page = browser.get(changelist())
    assert len(page.context["cl"].result_list) == extra + 1


@pytest.mark.parametrize("extra", [0, 12])
def test_the_change_page_shows_in_constant_queries(
    personas, client_for, staff_consultant, escalated, django_assert_num_queries, extra
):
    for _ in range(extra):
        MessageFactory(
            organisation=personas.organisation,
            conversation=escalated,
            role=MessageRole.CONSULTANT,
            author=UserFactory(),
            citations=[{"kind": "control", "framework": "uk-gdpr", "ref": "5", "title": "Principles", "url": "/x/"}],
        )
    browser = client_for(staff_consultant)
    browser.get(change(escalated))

    with django_assert_num_queries(7):
        page = browser.get(change(escalated))
    assert len(page.context["transcript"]) == extra + 2
