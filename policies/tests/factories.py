from __future__ import annotations

import factory

from accounts.tests.factories import OrganisationFactory, UserFactory
from policies.models import (
    GenerationJob,
    Policy,
    PolicyAcknowledgement,
    PolicyReview,
    PolicyVersion,
    ReviewDecision,
)


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    title = factory.Sequence(lambda n: f"Policy number {n} on information security")


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyVersion
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    policy = factory.SubFactory(PolicyFactory, organisation=factory.SelfAttribute("..organisation"))
    number = factory.Sequence(lambda n: n + 1)
    title = factory.SelfAttribute("policy.title")
    sections = factory.Sequence(
        lambda n: [
            {
                "key": "purpose",
                "title": "Purpose",
                "body": f"Purpose text number {n} for our staff.",
                "origin": "template",
                "provider": "",
            }
        ]
    )


class PolicyReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyReview
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    version = factory.SubFactory(PolicyVersionFactory, organisation=factory.SelfAttribute("..organisation"))
    reviewer = factory.SubFactory(UserFactory)
    decision = ReviewDecision.APPROVED
    comment = factory.Sequence(lambda n: f"Review comment number {n}: reads well")


class PolicyAcknowledgementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyAcknowledgement
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    version = factory.SubFactory(PolicyVersionFactory, organisation=factory.SelfAttribute("..organisation"))
    user = factory.SubFactory(UserFactory)


class GenerationJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationJob
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    policy = factory.SubFactory(PolicyFactory, organisation=factory.SelfAttribute("..organisation"))
    message = factory.Sequence(lambda n: f"Drafting job number {n}")
