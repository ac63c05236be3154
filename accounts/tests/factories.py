from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import AuditEvent, Invitation, Membership, Notification, Organisation, User
from accounts.roles import Role

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.co.uk")
    full_name = factory.Faker("name", locale="en_GB")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save(update_fields=["password"])


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        skip_postgeneration_save = True

    name = factory.Faker("company", locale="en_GB")
    slug = factory.Sequence(lambda n: f"organisation-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.co.uk")
    role = Role.MEMBER
    created_at = factory.LazyFunction(timezone.now)


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    actor_label = "system"
    action = "organisation.renamed"
    summary = factory.Sequence(lambda n: f"Audit entry number {n}")


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory(UserFactory)
    kind = "evidence_expiring"
    title = factory.Sequence(lambda n: f"Notification number {n} about evidence")
    body = factory.Sequence(lambda n: f"Body of notification number {n}")
