from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import OrganisationFactory, UserFactory
from chat.models import AICall, AICallOutcome, Conversation, DocumentIndex, DocumentKind, Message, MessageRole
from policies.tests.factories import PolicyFactory


class AICallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AICall
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    feature = factory.Sequence(lambda n: f"policy-draft-{n}")
    provider = "gemini"
    model = "gemini-2.5-flash"
    outcome = AICallOutcome.OK
    tokens_in = 1200
    tokens_out = 800
    latency_ms = 950
    cost_estimate = Decimal("0.001796")
    created_at = factory.LazyFunction(timezone.now)


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Conversation number {n} about breach reporting")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    conversation = factory.SubFactory(ConversationFactory, organisation=factory.SelfAttribute("..organisation"))
    role = MessageRole.USER
    content = factory.Sequence(lambda n: f"Question number {n}: how long do we have to report a breach?")


class DocumentIndexFactory(factory.django.DjangoModelFactory):
    """An index entry of a policy: an evidence item would already have made its own on being saved."""

    class Meta:
        model = DocumentIndex
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    kind = DocumentKind.POLICY
    policy = factory.SubFactory(PolicyFactory, organisation=factory.SelfAttribute("..organisation"))
    title = factory.Sequence(lambda n: f"Indexed policy number {n}")
    body = "Staff report suspected breaches to the office manager at once."
