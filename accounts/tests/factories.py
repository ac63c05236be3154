from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import (
    ApiKey,
    AuditEvent,
    DataExport,
    DataExportStatus,
    IdempotencyRecord,
    Invitation,
    Membership,
    Notification,
    Organisation,
    Partner,
    PartnerGrant,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.roles import Role
from accounts.scopes import Scope
from accounts.services_api import KEY_MARK, hash_secret
from config.encryption import encrypt_text

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


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Partner Consulting {n} LLP")
    slug = factory.Sequence(lambda n: f"partner-consulting-{n}")
    contact_email = factory.Sequence(lambda n: f"api{n}@partner.example")


class PartnerGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerGrant
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    partner = factory.SubFactory(PartnerFactory)
    scopes = factory.LazyFunction(lambda: [scope.value for scope in Scope])


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key whose secret is `<prefix>_` followed by 32 "x"s; `api_secret(key)` rebuilds it."""

    class Meta:
        model = ApiKey
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Sync script {n}")
    prefix = factory.Sequence(lambda n: f"{KEY_MARK}{n:08d}")
    secret_hash = factory.LazyAttribute(lambda key: hash_secret(f"{key.prefix}_{'x' * 32}"))
    scopes = factory.LazyFunction(lambda: [scope.value for scope in Scope])


def api_secret(key: ApiKey) -> str:
    return f"{key.prefix}_{'x' * 32}"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/greenlight")
    description = factory.Sequence(lambda n: f"Ticketing hook number {n}")
    events = factory.LazyFunction(lambda: ["evidence.expired", "report.ready"])
    secret_encrypted = factory.LazyFunction(lambda: encrypt_text("whsec_test"))


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    endpoint = factory.SubFactory(WebhookEndpointFactory, organisation=factory.SelfAttribute("..organisation"))
    event = "report.ready"
    payload = factory.LazyFunction(lambda: {"event": "report.ready", "data": {}})
    response_body = factory.Sequence(lambda n: f"Receiver said thanks number {n}")


class IdempotencyRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyRecord
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    principal = factory.Sequence(lambda n: f"key:{n}")
    key = factory.Sequence(lambda n: f"retry-token-{n}")
    request_fingerprint = "0" * 64


class DataExportFactory(factory.django.DjangoModelFactory):
    """Queued by default; `ready=True` stores a small ZIP and its size and checksum as a build would."""

    class Meta:
        model = DataExport
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    message = factory.Sequence(lambda n: f"Export number {n} waiting to start")

    class Params:
        ready = factory.Trait(
            status=DataExportStatus.READY,
            progress=100,
            file=factory.django.FileField(filename="greenlight-export.zip", data=b"PK\x05\x06" + bytes(18)),
            size=22,
        )
