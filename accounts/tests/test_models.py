"""Model rules: email users, one membership per person per organisation, append-only audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import AuditEvent, Invitation, Membership, User
from accounts.roles import Role
from accounts.tenancy import TenantModel, tenant_models
from accounts.tests.factories import (
    AuditEventFactory,
    InvitationFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- Users ----------------------------------------------------------------------------------------
def test_users_are_created_with_an_email_and_no_username():
    user = User.objects.create_user("Someone@Example.COM", password="a-long-secret-phrase")

    assert user.email == "someone@example.com"
    assert user.check_password("a-long-secret-phrase")
    assert not user.is_staff
    assert not hasattr(user, "username")


def test_a_superuser_can_sign_in_to_the_admin():
    user = User.objects.create_superuser("boss@example.com", password="a-long-secret-phrase")

    assert (user.is_staff, user.is_superuser) == (True, True)


def test_an_email_is_required():
    with pytest.raises(ValueError):
        User.objects.create_user("", password="x")


def test_emails_are_unique_ignoring_case():
    UserFactory(email="someone@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="SOMEONE@example.com")


def test_display_name_falls_back_to_the_email():
    assert UserFactory(full_name="", email="a@example.com").display_name == "a@example.com"
    assert UserFactory(full_name="Ada Baker").display_name == "Ada Baker"


# --- Memberships and invitations ------------------------------------------------------------------
def test_a_person_belongs_to_an_organisation_once():
    membership = MembershipFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(organisation=membership.organisation, user=membership.user, role=Role.VIEWER)


def test_a_membership_role_must_be_a_known_role():
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(role="overlord")


def test_an_organisation_has_one_open_invitation_per_address():
    invitation = InvitationFactory(email="a@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        InvitationFactory(organisation=invitation.organisation, email="A@example.com")


def test_a_closed_invitation_does_not_block_a_new_one():
    invitation = InvitationFactory(email="a@example.com", revoked_at=timezone.now())

    InvitationFactory(organisation=invitation.organisation, email="a@example.com")

    assert Invitation.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "status", "is_open"),
    [
        ({}, "pending", True),
        ({"accepted_at": timezone.now()}, "accepted", False),
        ({"revoked_at": timezone.now()}, "revoked", False),
        ({"created_at": timezone.now() - timedelta(days=7, seconds=1)}, "expired", False),
        ({"created_at": timezone.now() - timedelta(days=6, hours=23)}, "pending", True),
    ],
)
def test_invitation_status(changes, status, is_open):
    invitation = InvitationFactory(**changes)

    assert invitation.status == status
    assert invitation.is_open is is_open


def test_an_invitation_expires_seven_days_after_it_was_sent():
    sent = timezone.now() - timedelta(days=2)

    assert InvitationFactory(created_at=sent).expires_at == sent + timedelta(days=7)


# --- Tenancy --------------------------------------------------------------------------------------
def test_every_tenant_model_has_a_required_indexed_organisation():
    assert Membership in tenant_models()
    assert Invitation in tenant_models()
    assert AuditEvent in tenant_models()
    for model in tenant_models():
        organisation = model._meta.get_field("organisation")
        assert not organisation.null, model
        assert organisation.db_index, model
        assert issubclass(model, TenantModel)


def test_for_organisation_filters_to_one_tenant():
    ours, theirs = MembershipFactory(), MembershipFactory()

    assert list(Membership.objects.for_organisation(ours.organisation)) == [ours]
    assert theirs not in Membership.objects.for_organisation(ours.organisation)


# --- Audit events are append-only -----------------------------------------------------------------
@pytest.fixture
def event():
    return AuditEventFactory(summary="Something happened")


def test_an_audit_event_cannot_be_changed(event):
    event.summary = "Nothing happened"

    with pytest.raises(TypeError, match="append-only"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).summary == "Something happened"


def test_an_audit_event_cannot_be_deleted(event):
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_events_cannot_be_updated_in_bulk(event):
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(summary="Nothing happened")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.update(summary="Nothing happened")
    event.summary = "Nothing happened"
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.bulk_update([event], ["summary"])
    assert AuditEvent.objects.get(pk=event.pk).summary == "Something happened"


def test_audit_events_cannot_be_deleted_in_bulk(event):
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_events_outlive_the_account_that_acted():
    user = UserFactory(email="leaver@example.com")
    organisation = OrganisationFactory()
    recorded = audit_record(
        organisation=organisation, actor=Actor(user=user, ip_address="::1"), action="organisation.renamed", summary="x"
    )

    user.delete()

    recorded = AuditEvent.objects.get(pk=recorded.pk)
    assert recorded.actor is None
    assert recorded.actor_label == "leaver@example.com"
    assert recorded.ip_address == "::1"


def test_audit_record_keeps_long_summaries_within_the_column():
    recorded = audit_record(
        organisation=OrganisationFactory(), actor=Actor(user=None), action="organisation.renamed", summary="x" * 600
    )

    assert len(recorded.summary) == 500


def test_audit_record_refuses_a_malformed_ip_address():
    with pytest.raises(ValidationError):
        audit_record(
            organisation=OrganisationFactory(),
            actor=Actor(user=None, ip_address="not-an-ip"),
            action="organisation.renamed",
            summary="x",
        )
