"""The accounts services: the rules about organisations, members, roles and invitations, and their audit trail."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.audit import SYSTEM, Actor
from accounts.models import AuditEvent, Invitation, Membership
from accounts.roles import Role
from accounts.tests.factories import InvitationFactory, MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"


def actor(user) -> Actor:
    return Actor(user=user, ip_address=IP)


def only_event(organisation, action: str) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(organisation=organisation, action=action)
    return event


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


# --- Organisations --------------------------------------------------------------------------------
def test_creating_an_organisation_makes_the_creator_its_owner():
    founder = UserFactory(email="founder@bakery.example")

    organisation = services.organisation_create(name="  Crumb & Co  ", owner=founder, actor=actor(founder))

    assert organisation.name == "Crumb & Co"
    assert organisation.slug == "crumb-co"
    assert Membership.objects.get(organisation=organisation, user=founder).role == Role.OWNER


def test_creating_an_organisation_records_who_did_it_and_from_where():
    founder = UserFactory(email="founder@bakery.example")

    organisation = services.organisation_create(name="Crumb & Co", owner=founder, actor=actor(founder))

    event = only_event(organisation, "organisation.created")
    assert event.actor == founder
    assert event.actor_label == "founder@bakery.example"
    assert event.object_type == "accounts.organisation"
    assert event.object_id == str(organisation.pk)
    assert event.summary == "Created the organisation Crumb & Co"
    assert event.ip_address == IP


def test_organisation_slugs_stay_unique():
    founder = UserFactory()

    first = services.organisation_create(name="Crumb", owner=founder, actor=actor(founder))
    second = services.organisation_create(name="Crumb", owner=founder, actor=actor(founder))

    assert (first.slug, second.slug) == ("crumb", "crumb-2")


def test_organisation_with_a_name_that_makes_no_slug_still_gets_one():
    founder = UserFactory()

    organisation = services.organisation_create(name="株式会社", owner=founder, actor=actor(founder))

    assert organisation.slug == "organisation"


def test_blank_organisation_name_is_refused():
    founder = UserFactory()

    with pytest.raises(ValidationError):
        services.organisation_create(name="   ", owner=founder, actor=actor(founder))
    assert not Membership.objects.filter(user=founder).exists()


def test_renaming_an_organisation_is_audited(personas):
    services.organisation_rename(
        organisation=personas.organisation, name="Acme Patisserie", actor=actor(personas.owner)
    )

    personas.organisation.refresh_from_db()
    assert personas.organisation.name == "Acme Patisserie"
    event = only_event(personas.organisation, "organisation.renamed")
    assert event.summary == "Renamed the organisation from Acme Bakery Ltd to Acme Patisserie"
    assert event.actor == personas.owner


# --- Roles ----------------------------------------------------------------------------------------
def change_role(personas, target, role, by):
    return services.membership_change_role(
        membership=personas.membership(target), role=role, acting=personas.membership(by), actor=actor(by)
    )


@pytest.mark.parametrize("by", ["owner", "admin"])
def test_owner_and_admin_can_change_a_members_role(personas, by):
    change_role(personas, personas.member, Role.VIEWER, getattr(personas, by))

    assert personas.membership(personas.member).role == Role.VIEWER
    event = only_event(personas.organisation, "membership.role_changed")
    assert event.summary == "Changed member@acme.example from Member to Viewer"
    assert event.object_type == "accounts.membership"
    assert event.object_id == str(personas.membership(personas.member).pk)
    assert event.ip_address == IP


def test_only_an_owner_can_make_an_owner(personas):
    with pytest.raises(ValidationError, match="Only an owner can make someone an owner"):
        change_role(personas, personas.member, Role.OWNER, personas.admin)

    change_role(personas, personas.member, Role.OWNER, personas.owner)
    assert personas.membership(personas.member).role == Role.OWNER


def test_an_admin_cannot_demote_an_owner(personas):
    MembershipFactory(organisation=personas.organisation, role=Role.OWNER, user=UserFactory())

    with pytest.raises(ValidationError, match="Only an owner can change another owner's role"):
        change_role(personas, personas.owner, Role.MEMBER, personas.admin)
    assert personas.membership(personas.owner).role == Role.OWNER


def test_an_owner_can_demote_another_owner(personas):
    second_owner = MembershipFactory(organisation=personas.organisation, role=Role.OWNER).user

    change_role(personas, second_owner, Role.ADMIN, personas.owner)

    assert personas.membership(second_owner).role == Role.ADMIN


def test_the_last_owner_cannot_be_demoted(personas):
    with pytest.raises(ValidationError, match="at least one owner"):
        change_role(personas, personas.owner, Role.ADMIN, personas.owner)

    assert personas.membership(personas.owner).role == Role.OWNER
    assert not AuditEvent.objects.filter(action="membership.role_changed").exists()


def test_an_invalid_role_is_refused(personas):
    with pytest.raises(ValidationError):
        change_role(personas, personas.member, "overlord", personas.owner)


def test_setting_the_same_role_changes_nothing_and_records_nothing(personas):
    change_role(personas, personas.member, Role.MEMBER, personas.owner)

    assert not AuditEvent.objects.filter(action="membership.role_changed").exists()


# --- Removing and leaving -------------------------------------------------------------------------
def test_removing_a_member_ends_their_access_and_is_audited(personas):
    target = personas.membership(personas.member)
    target_pk = target.pk

    services.membership_remove(
        membership=target, acting=personas.membership(personas.admin), actor=actor(personas.admin)
    )

    assert not Membership.objects.filter(pk=target_pk).exists()
    event = only_event(personas.organisation, "membership.removed")
    assert event.summary == "Removed member@acme.example from the organisation"
    assert event.object_id == str(target_pk)
    assert event.actor == personas.admin


def test_an_admin_cannot_remove_an_owner(personas):
    MembershipFactory(organisation=personas.organisation, role=Role.OWNER)

    with pytest.raises(ValidationError, match="Only an owner can remove another owner"):
        services.membership_remove(
            membership=personas.membership(personas.owner),
            acting=personas.membership(personas.admin),
            actor=actor(personas.admin),
        )


def test_the_only_owner_cannot_be_removed(personas):
    with pytest.raises(ValidationError):
        services.membership_remove(
            membership=personas.membership(personas.owner),
            acting=personas.membership(personas.admin),
            actor=actor(personas.admin),
        )

    assert personas.membership(personas.owner).role == Role.OWNER
    assert not AuditEvent.objects.filter(action="membership.removed").exists()


def test_a_member_can_leave(personas):
    own = personas.membership(personas.viewer)

    services.membership_remove(membership=own, acting=own, actor=actor(personas.viewer))

    assert not Membership.objects.filter(user=personas.viewer).exists()
    assert only_event(personas.organisation, "membership.left").summary == "viewer@acme.example left the organisation"


def test_the_last_owner_cannot_leave(personas):
    own = personas.membership(personas.owner)

    with pytest.raises(ValidationError, match="You are the last owner"):
        services.membership_remove(membership=own, acting=own, actor=actor(personas.owner))
    assert Membership.objects.filter(pk=own.pk).exists()


def test_an_owner_can_leave_when_another_owner_remains(personas):
    MembershipFactory(organisation=personas.organisation, role=Role.OWNER)
    own = personas.membership(personas.owner)

    services.membership_remove(membership=own, acting=own, actor=actor(personas.owner))

    assert not Membership.objects.filter(user=personas.owner, organisation=personas.organisation).exists()


# --- Invitations ----------------------------------------------------------------------------------
def invite(personas, email="newcomer@acme.example", role=Role.MEMBER, by=None):
    by = by or personas.owner
    return services.invitation_create(
        organisation=personas.organisation, email=email, role=role, acting=personas.membership(by), actor=actor(by)
    )


def test_inviting_someone_emails_them_a_link(personas, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(personas, email="  NewComer@Acme.Example ")

    assert invitation.email == "newcomer@acme.example"
    assert invitation.invited_by == personas.owner
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["newcomer@acme.example"]
    assert "Acme Bakery Ltd" in mailoutbox[0].subject
    # The signed link carries a timestamp, so it is read back rather than rebuilt in a later second.
    token = re.search(r"/invitations/([^/\s]+)/", mailoutbox[0].body).group(1)
    assert services.invitation_from_token(token) == invitation
    event = only_event(personas.organisation, "invitation.created")
    assert event.summary == "Invited newcomer@acme.example as Member"
    assert event.object_type == "accounts.invitation"


def test_the_invitation_email_waits_for_the_commit(personas, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invite(personas)

    assert mailoutbox == []
    assert len(callbacks) == 1


def test_only_an_owner_can_invite_an_owner(personas):
    with pytest.raises(ValidationError, match="Only an owner"):
        invite(personas, role=Role.OWNER, by=personas.admin)

    assert invite(personas, role=Role.OWNER, by=personas.owner).role == Role.OWNER


def test_inviting_an_existing_member_is_refused(personas):
    with pytest.raises(ValidationError, match="already a member"):
        invite(personas, email="Member@Acme.Example")


def test_a_second_pending_invitation_for_the_same_address_is_refused(personas):
    invite(personas)

    with pytest.raises(ValidationError, match="already has a pending invitation"):
        invite(personas, email="NEWCOMER@acme.example")
    assert Invitation.objects.count() == 1


def test_an_expired_invitation_does_not_block_a_new_one(personas):
    old = InvitationFactory(organisation=personas.organisation, email="newcomer@acme.example", created_at=days_ago(8))

    fresh = invite(personas)

    old.refresh_from_db()
    assert old.status == "revoked"
    assert fresh.status == "pending"


def test_the_same_address_can_be_invited_by_two_organisations(personas):
    invite(personas)
    outsider_membership = Membership.objects.get(user=personas.outsider)

    services.invitation_create(
        organisation=personas.other_organisation,
        email="newcomer@acme.example",
        role=Role.MEMBER,
        acting=outsider_membership,
        actor=actor(personas.outsider),
    )

    assert Invitation.objects.filter(email="newcomer@acme.example").count() == 2


def accept(invitation, user):
    return services.invitation_accept(token=services.invitation_token(invitation), user=user, actor=actor(user))


def test_accepting_an_invitation_creates_the_membership_with_its_role(personas):
    invitation = invite(personas, role=Role.CONSULTANT)
    newcomer = UserFactory(email="newcomer@acme.example")

    membership = accept(invitation, newcomer)

    assert (membership.organisation, membership.user, membership.role) == (
        personas.organisation,
        newcomer,
        Role.CONSULTANT,
    )
    invitation.refresh_from_db()
    assert invitation.accepted_by == newcomer
    assert invitation.accepted_at is not None
    assert invitation.status == "accepted"
    event = only_event(personas.organisation, "invitation.accepted")
    assert event.actor == newcomer
    assert event.summary == "newcomer@acme.example joined as Consultant"


def test_the_invited_address_is_matched_regardless_of_case(personas):
    invitation = invite(personas, email="newcomer@acme.example")

    assert accept(invitation, UserFactory(email="NewComer@ACME.example")).organisation == personas.organisation


def test_an_invitation_can_be_used_only_once(personas):
    invitation = invite(personas)
    newcomer = UserFactory(email="newcomer@acme.example")
    accept(invitation, newcomer)

    with pytest.raises(ValidationError, match="already been used"):
        accept(invitation, newcomer)
    assert Membership.objects.filter(user=newcomer).count() == 1


def test_an_invitation_expires_after_seven_days(personas):
    newcomer = UserFactory(email="newcomer@acme.example")
    invitation = InvitationFactory(
        organisation=personas.organisation, email=newcomer.email, created_at=days_ago(7) - timedelta(minutes=1)
    )

    with pytest.raises(ValidationError, match="expired"):
        accept(invitation, newcomer)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_an_invitation_still_works_on_its_seventh_day(personas):
    newcomer = UserFactory(email="newcomer@acme.example")
    invitation = InvitationFactory(
        organisation=personas.organisation, email=newcomer.email, created_at=days_ago(7) + timedelta(minutes=1)
    )

    assert accept(invitation, newcomer).organisation == personas.organisation


def test_a_link_signed_more_than_seven_days_ago_no_longer_works(personas, monkeypatch):
    newcomer = UserFactory(email="newcomer@acme.example")
    invitation = InvitationFactory(organisation=personas.organisation, email=newcomer.email)
    eight_days_ago = timezone.now().timestamp() - timedelta(days=8).total_seconds()
    monkeypatch.setattr(signing.time, "time", lambda: eight_days_ago)
    old_token = services.invitation_token(invitation)
    monkeypatch.undo()

    assert services.invitation_from_token(old_token) is None
    with pytest.raises(ValidationError, match="not valid or has expired"):
        services.invitation_accept(token=old_token, user=newcomer, actor=actor(newcomer))


def test_a_revoked_invitation_cannot_be_accepted(personas):
    invitation = invite(personas)
    services.invitation_revoke(invitation=invitation, actor=actor(personas.owner))

    with pytest.raises(ValidationError, match="withdrawn"):
        accept(invitation, UserFactory(email="newcomer@acme.example"))
    assert only_event(personas.organisation, "invitation.revoked").summary == (
        "Revoked the invitation to newcomer@acme.example"
    )


def test_revoking_twice_records_it_once(personas):
    invitation = invite(personas)

    services.invitation_revoke(invitation=invitation, actor=actor(personas.owner))
    services.invitation_revoke(invitation=invitation, actor=actor(personas.owner))

    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


def test_an_accepted_invitation_cannot_be_revoked_or_resent(personas):
    invitation = invite(personas)
    accept(invitation, UserFactory(email="newcomer@acme.example"))

    with pytest.raises(ValidationError):
        services.invitation_revoke(invitation=invitation, actor=actor(personas.owner))
    with pytest.raises(ValidationError):
        services.invitation_resend(invitation=invitation, actor=actor(personas.owner))


def test_someone_signed_in_with_another_address_cannot_accept(personas):
    invitation = invite(personas)
    stranger = UserFactory(email="stranger@example.com")

    with pytest.raises(ValidationError) as refused:
        accept(invitation, stranger)

    assert "different email address" in refused.value.messages[0]
    assert "newcomer" not in refused.value.messages[0]
    assert not Membership.objects.filter(user=stranger).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_a_forged_token_is_refused(personas):
    invitation = invite(personas)
    newcomer = UserFactory(email="newcomer@acme.example")
    forged = signing.dumps({"invitation": invitation.pk}, salt="something-else")

    assert services.invitation_from_token(forged) is None
    assert services.invitation_from_token(services.invitation_token(invitation)[:-3] + "abc") is None
    assert services.invitation_from_token("not-a-token") is None
    with pytest.raises(ValidationError, match="not valid"):
        services.invitation_accept(token=forged, user=newcomer, actor=actor(newcomer))


def test_resending_restarts_the_seven_days_and_emails_again(personas, mailoutbox, django_capture_on_commit_callbacks):
    invitation = InvitationFactory(
        organisation=personas.organisation, email="newcomer@acme.example", created_at=days_ago(6)
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_resend(invitation=invitation, actor=actor(personas.owner))

    invitation.refresh_from_db()
    assert invitation.created_at > days_ago(0.01)
    assert len(mailoutbox) == 1
    assert only_event(personas.organisation, "invitation.resent").actor == personas.owner


def test_resending_an_expired_invitation_makes_it_usable_again(personas):
    newcomer = UserFactory(email="newcomer@acme.example")
    invitation = InvitationFactory(organisation=personas.organisation, email=newcomer.email, created_at=days_ago(10))

    services.invitation_resend(invitation=invitation, actor=actor(personas.owner))

    assert accept(invitation, newcomer).organisation == personas.organisation


def test_a_member_already_in_the_organisation_cannot_accept_again(personas):
    invitation = InvitationFactory(organisation=personas.organisation, email=personas.member.email)

    with pytest.raises(ValidationError, match="already a member"):
        accept(invitation, personas.member)


# --- The audit trail ------------------------------------------------------------------------------
def test_every_service_writes_exactly_one_audit_event(personas):
    owner = personas.owner
    by = actor(owner)
    acting = personas.membership(owner)
    steps = [
        (
            "organisation.renamed",
            lambda: services.organisation_rename(organisation=personas.organisation, name="X", actor=by),
        ),
        ("membership.role_changed", lambda: change_role(personas, personas.member, Role.ADMIN, owner)),
        ("invitation.created", lambda: invite(personas)),
        ("invitation.resent", lambda: services.invitation_resend(invitation=Invitation.objects.get(), actor=by)),
        ("invitation.accepted", lambda: accept(Invitation.objects.get(), UserFactory(email="newcomer@acme.example"))),
        (
            "invitation.revoked",
            lambda: services.invitation_revoke(invitation=invite(personas, "b@x.example"), actor=by),
        ),
        (
            "membership.removed",
            lambda: services.membership_remove(
                membership=personas.membership(personas.viewer), acting=acting, actor=by
            ),
        ),
    ]
    for action, step in steps:
        before = AuditEvent.objects.count()
        step()
        assert AuditEvent.objects.filter(action=action).count() == 1, action
        # Revoking needs an invitation first, so that step writes two events.
        assert AuditEvent.objects.count() == before + (2 if action == "invitation.revoked" else 1), action
    assert set(AuditEvent.objects.values_list("organisation", flat=True)) == {personas.organisation.pk}


def test_system_actions_are_labelled_system():
    organisation = OrganisationFactory()
    owner = UserFactory()
    created = services.organisation_create(name="Crumb", owner=owner, actor=SYSTEM)

    event = only_event(created, "organisation.created")
    assert (event.actor, event.actor_label, event.ip_address) == (None, "system", None)
    assert not AuditEvent.objects.filter(organisation=organisation).exists()


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_is_down_does_not_break_inviting(personas, client_for, settings, caplog):
    """A real commit, so the email task runs eagerly inside the request, as it does without a worker."""
    settings.EMAIL_BACKEND = "accounts.tests.test_notification_preferences.RefusingBackend"
    with caplog.at_level(logging.ERROR, logger="accounts.tasks"):
        response = client_for(personas.owner).post(
            reverse("invitation_create"), {"email": "newcomer@acme.example", "role": Role.MEMBER}
        )
    assert response.status_code in (200, 302)
    assert Invitation.objects.filter(email="newcomer@acme.example", organisation=personas.organisation).exists()
    assert "Could not email invitation" in caplog.text
