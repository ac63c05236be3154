"""The accounts pages, driven the way a browser (or htmx) drives them."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone
from django.utils.html import escape

from accounts import services
from accounts.middleware import SESSION_KEY
from accounts.models import AuditEvent, Invitation, Membership, Organisation
from accounts.roles import Role
from accounts.tests.factories import (
    AuditEventFactory,
    InvitationFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Organisation creation ------------------------------------------------------------------------
def test_a_user_without_an_organisation_is_sent_to_create_one(client_for):
    browser = client_for(UserFactory())

    response = browser.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/organisations/new/"


def test_creating_an_organisation_makes_you_owner_and_takes_you_to_its_dashboard(client_for):
    founder = UserFactory(email="founder@bakery.example")
    browser = client_for(founder)
    assert browser.get("/organisations/new/").status_code == 200

    response = browser.post("/organisations/new/", {"name": "Crumb & Co"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    organisation = Organisation.objects.get(name="Crumb & Co")
    assert Membership.objects.get(user=founder).organisation == organisation
    assert Membership.objects.get(user=founder).role == Role.OWNER
    assert browser.session[SESSION_KEY] == organisation.pk
    event = AuditEvent.objects.get(organisation=organisation, action="organisation.created")
    assert (event.actor, event.ip_address) == (founder, "127.0.0.1")
    dashboard = browser.get("/")
    assert dashboard.context["current_organisation"] == organisation
    assert "Crumb &amp; Co is ready" in dashboard.content.decode()


def test_creating_an_organisation_without_a_name_shows_an_error(client_for):
    browser = client_for(UserFactory())

    response = browser.post("/organisations/new/", {"name": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert not Organisation.objects.exists()


def test_a_member_can_create_a_second_organisation_and_is_switched_to_it(personas, client_for):
    browser = client_for(personas.member)
    browser.get("/")

    browser.post("/organisations/new/", {"name": "Side Project Ltd"})

    second = Organisation.objects.get(name="Side Project Ltd")
    assert browser.get("/").context["current_organisation"] == second
    assert Membership.objects.filter(user=personas.member).count() == 2


# --- Switching organisation -----------------------------------------------------------------------
@pytest.fixture
def two_organisations(personas):
    """The member of Acme also owns a second organisation."""
    second = OrganisationFactory(name="Zebra Crossings Ltd")
    MembershipFactory(organisation=second, user=personas.member, role=Role.OWNER)
    return personas.organisation, second


def test_the_first_organisation_alphabetically_is_current_until_you_switch(personas, client_for, two_organisations):
    acme, _ = two_organisations

    response = client_for(personas.member).get("/")

    assert response.context["current_organisation"] == acme
    assert [m.organisation for m in response.context["user_memberships"]] == list(two_organisations)


def test_switching_to_another_of_your_organisations(personas, client_for, two_organisations):
    _, zebra = two_organisations
    browser = client_for(personas.member)

    response = browser.post("/organisations/switch/", {"organisation": zebra.pk})

    assert response.status_code == 302
    assert messages_of(response) == ["Switched to Zebra Crossings Ltd."]
    page = browser.get("/settings/members/")
    assert page.context["current_organisation"] == zebra
    assert page.context["current_membership"].role == Role.OWNER


def test_switching_to_an_organisation_you_are_not_in_is_refused(personas, client_for):
    browser = client_for(personas.member)
    browser.get("/")

    response = browser.post("/organisations/switch/", {"organisation": personas.other_organisation.pk})

    assert response.status_code == 302
    assert messages_of(response) == ["You are not a member of that organisation."]
    assert browser.session[SESSION_KEY] == personas.organisation.pk
    assert browser.get("/").context["current_organisation"] == personas.organisation


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_switching_to_nonsense_is_refused(personas, client_for, value):
    browser = client_for(personas.member)

    response = browser.post("/organisations/switch/", {"organisation": value})

    assert messages_of(response) == ["You are not a member of that organisation."]


def test_switching_with_htmx_redirects_the_browser(personas, client_for, two_organisations):
    _, zebra = two_organisations

    response = client_for(personas.member).post("/organisations/switch/", {"organisation": zebra.pk}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/"


def test_a_stale_session_organisation_falls_back_to_one_you_belong_to(personas, client_for):
    browser = client_for(personas.member)
    session = browser.session
    session[SESSION_KEY] = personas.other_organisation.pk
    session.save()

    response = browser.get("/")

    assert response.context["current_organisation"] == personas.organisation
    assert browser.session[SESSION_KEY] == personas.organisation.pk


# --- Organisation settings ------------------------------------------------------------------------
def test_an_admin_renames_the_organisation(personas, client_for):
    response = client_for(personas.admin).post("/settings/", {"name": "Acme Patisserie"})

    assert response.status_code == 302
    personas.organisation.refresh_from_db()
    assert personas.organisation.name == "Acme Patisserie"
    assert AuditEvent.objects.get(action="organisation.renamed").actor == personas.admin


def test_renaming_to_blank_shows_an_error(personas, client_for):
    response = client_for(personas.owner).post("/settings/", {"name": " "})

    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    personas.organisation.refresh_from_db()
    assert personas.organisation.name == "Acme Bakery Ltd"


def test_a_viewer_sees_the_name_without_a_form(personas, client_for):
    response = client_for(personas.viewer).get("/settings/")

    assert response.status_code == 200
    assert b"Only owners and admins can change" in response.content
    assert b'name="name"' not in response.content


# --- Members and roles ----------------------------------------------------------------------------
def role_url(membership) -> str:
    return f"/settings/members/{membership.pk}/role/"


def test_members_page_lists_everyone_in_the_organisation_and_nobody_else(personas, client_for):
    response = client_for(personas.viewer).get("/settings/members/")

    assert response.status_code == 200
    listed = {m.user.email for m in response.context["members"]}
    assert listed == {
        "owner@acme.example",
        "admin@acme.example",
        "member@acme.example",
        "viewer@acme.example",
        "consultant@acme.example",
    }
    assert b"outsider@rival.example" not in response.content


def test_an_owner_changes_a_role(personas, client_for):
    target = personas.membership(personas.member)

    response = client_for(personas.owner).post(role_url(target), {"role": Role.ADMIN})

    assert response.status_code == 302
    assert response["Location"] == "/settings/members/"
    target.refresh_from_db()
    assert target.role == Role.ADMIN
    assert messages_of(response) == [f"{personas.member.display_name} is now Admin."]


def test_an_admin_cannot_make_an_owner(personas, client_for):
    target = personas.membership(personas.member)

    response = client_for(personas.admin).post(role_url(target), {"role": Role.OWNER})

    target.refresh_from_db()
    assert target.role == Role.MEMBER
    assert messages_of(response) == ["Only an owner can make someone an owner."]


def test_an_admin_cannot_demote_an_owner(personas, client_for):
    MembershipFactory(organisation=personas.organisation, role=Role.OWNER)
    target = personas.membership(personas.owner)

    response = client_for(personas.admin).post(role_url(target), {"role": Role.VIEWER})

    target.refresh_from_db()
    assert target.role == Role.OWNER
    assert messages_of(response) == ["Only an owner can change another owner's role."]


def test_the_last_owner_cannot_demote_themselves(personas, client_for):
    target = personas.membership(personas.owner)

    response = client_for(personas.owner).post(role_url(target), {"role": Role.ADMIN})

    target.refresh_from_db()
    assert target.role == Role.OWNER
    assert "at least one owner" in messages_of(response)[0]


def test_an_invalid_role_is_refused(personas, client_for):
    target = personas.membership(personas.member)

    response = client_for(personas.owner).post(role_url(target), {"role": "overlord"})

    target.refresh_from_db()
    assert target.role == Role.MEMBER
    assert messages_of(response) == ["Choose a valid role."]


def test_changing_a_role_with_htmx_returns_the_members_fragment(personas, client_for):
    target = personas.membership(personas.member)

    response = client_for(personas.owner).post(role_url(target), {"role": Role.VIEWER}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="members">')
    assert "<html" not in body
    assert 'id="invitations"' not in body
    assert 'id="messages"' in body
    assert 'hx-swap-oob="true"' in body


def test_an_admin_removes_a_member(personas, client_for):
    target = personas.membership(personas.member)

    response = client_for(personas.admin).post(f"/settings/members/{target.pk}/remove/")

    assert response.status_code == 302
    assert not Membership.objects.filter(user=personas.member).exists()
    assert AuditEvent.objects.get(action="membership.removed").actor == personas.admin
    assert client_for(personas.member).get("/").status_code == 302


def test_removing_yourself_points_you_to_leave(personas, client_for):
    own = personas.membership(personas.admin)

    response = client_for(personas.admin).post(f"/settings/members/{own.pk}/remove/")

    assert Membership.objects.filter(pk=own.pk).exists()
    assert messages_of(response) == ["To leave the organisation yourself, use Leave organisation."]


def test_removing_with_htmx_returns_the_members_fragment(personas, client_for):
    target = personas.membership(personas.viewer)

    response = client_for(personas.owner).post(f"/settings/members/{target.pk}/remove/", **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="members">')
    assert "viewer@acme.example" not in body


def test_a_member_leaves_and_loses_access(personas, client_for):
    browser = client_for(personas.member)

    response = browser.post("/settings/members/leave/")

    assert response.status_code == 302
    assert messages_of(response) == ["You have left Acme Bakery Ltd."]
    assert not Membership.objects.filter(user=personas.member).exists()
    assert AuditEvent.objects.get(action="membership.left").actor == personas.member
    assert browser.get("/")["Location"] == "/organisations/new/"


def test_leaving_one_organisation_moves_you_to_another(personas, client_for, two_organisations):
    _, zebra = two_organisations
    browser = client_for(personas.member)

    browser.post("/settings/members/leave/")

    assert browser.get("/").context["current_organisation"] == zebra


def test_the_last_owner_cannot_leave(personas, client_for):
    response = client_for(personas.owner).post("/settings/members/leave/")

    assert Membership.objects.filter(user=personas.owner).exists()
    assert messages_of(response) == ["You are the last owner. Make someone else an owner before you leave."]


# --- Invitations ----------------------------------------------------------------------------------
def test_an_admin_invites_someone_by_email(personas, client_for, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas.admin).post(
            "/settings/invitations/", {"email": "newcomer@acme.example", "role": Role.CONSULTANT}
        )

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.organisation, invitation.email, invitation.role) == (
        personas.organisation,
        "newcomer@acme.example",
        Role.CONSULTANT,
    )
    assert len(mailoutbox) == 1
    assert f"/invitations/{services.invitation_token(invitation)}/" in mailoutbox[0].body
    assert messages_of(response) == ["Invitation sent to newcomer@acme.example. The link works for 7 days."]


def test_an_admin_cannot_invite_an_owner(personas, client_for):
    response = client_for(personas.admin).post("/settings/invitations/", {"email": "x@acme.example", "role": "owner"})

    assert response.status_code == 200
    assert response.context["invitation_form"].errors["role"]
    assert not Invitation.objects.exists()


def test_an_owner_can_invite_an_owner(personas, client_for):
    client_for(personas.owner).post("/settings/invitations/", {"email": "x@acme.example", "role": "owner"})

    assert Invitation.objects.get().role == Role.OWNER


def test_inviting_an_existing_member_shows_an_error(personas, client_for):
    response = client_for(personas.owner).post(
        "/settings/invitations/", {"email": "viewer@acme.example", "role": "member"}
    )

    assert response.status_code == 200
    assert response.context["invitation_form"].errors["email"] == [
        "viewer@acme.example is already a member of Acme Bakery Ltd."
    ]
    assert not Invitation.objects.exists()


def test_inviting_an_address_with_a_pending_invitation_shows_an_error(personas, client_for):
    InvitationFactory(organisation=personas.organisation, email="newcomer@acme.example")

    response = client_for(personas.owner).post(
        "/settings/invitations/", {"email": "newcomer@acme.example", "role": "member"}
    )

    assert "already has a pending invitation" in response.context["invitation_form"].errors["email"][0]
    assert Invitation.objects.count() == 1


def test_inviting_with_htmx_returns_the_invitations_fragment(personas, client_for):
    response = client_for(personas.owner).post(
        "/settings/invitations/", {"email": "newcomer@acme.example", "role": "member"}, **HTMX
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="invitations">')
    assert "newcomer@acme.example" in body
    assert 'id="members"' not in body


def test_an_invalid_invitation_with_htmx_shows_the_error_in_the_fragment(personas, client_for):
    response = client_for(personas.owner).post(
        "/settings/invitations/", {"email": "not-an-address", "role": "member"}, **HTMX
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="invitations">')
    assert "field-error" in body
    assert not Invitation.objects.exists()


def test_resending_an_invitation_restarts_the_clock(
    personas, client_for, mailoutbox, django_capture_on_commit_callbacks
):
    invitation = InvitationFactory(
        organisation=personas.organisation, created_at=timezone.now() - timedelta(days=6, hours=23)
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas.admin).post(f"/settings/invitations/{invitation.pk}/resend/")

    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6, hours=23)
    assert len(mailoutbox) == 1


def test_revoking_an_invitation_withdraws_it(personas, client_for):
    invitation = InvitationFactory(organisation=personas.organisation)

    response = client_for(personas.owner).post(f"/settings/invitations/{invitation.pk}/revoke/", **HTMX)

    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    assert response.content.decode().lstrip().startswith('<section class="card" id="invitations">')
    assert invitation.email not in response.content.decode().split('id="messages"')[0]


@pytest.fixture
def newcomer():
    return UserFactory(email="newcomer@acme.example")


@pytest.fixture
def invitation(personas):
    return InvitationFactory(
        organisation=personas.organisation, email="newcomer@acme.example", role=Role.VIEWER, invited_by=personas.owner
    )


def accept_url(invitation) -> str:
    return f"/invitations/{services.invitation_token(invitation)}/"


def test_the_invited_person_sees_who_invited_them_and_can_accept(personas, client_for, newcomer, invitation):
    browser = client_for(newcomer)

    page = browser.get(accept_url(invitation))
    assert page.status_code == 200
    assert "Join Acme Bakery Ltd" in page.content.decode()
    assert escape(personas.owner.display_name) in page.content.decode()

    response = browser.post(accept_url(invitation))

    assert response.status_code == 302
    assert response["Location"] == "/"
    membership = Membership.objects.get(user=newcomer)
    assert (membership.organisation, membership.role) == (personas.organisation, Role.VIEWER)
    invitation.refresh_from_db()
    assert (invitation.accepted_by, invitation.status) == (newcomer, "accepted")
    assert browser.get("/").context["current_organisation"] == personas.organisation


def test_accepting_switches_a_member_of_another_organisation_to_the_new_one(personas, client_for):
    invitation = InvitationFactory(organisation=personas.organisation, email=personas.outsider.email)
    browser = client_for(personas.outsider)

    browser.post(accept_url(invitation))

    assert browser.get("/").context["current_organisation"] == personas.organisation


def test_an_invitation_link_works_only_once(client_for, newcomer, invitation):
    browser = client_for(newcomer)
    browser.post(accept_url(invitation))

    again = browser.post(accept_url(invitation))

    assert messages_of(again)[-1] == "This invitation has already been used."
    assert Membership.objects.filter(user=newcomer).count() == 1
    assert "This invitation is accepted" in browser.get(accept_url(invitation)).content.decode()


def test_an_expired_invitation_cannot_be_accepted(client_for, newcomer, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(created_at=timezone.now() - timedelta(days=7, seconds=1))
    browser = client_for(newcomer)

    page = browser.get(accept_url(invitation))
    response = browser.post(accept_url(invitation))

    assert "This invitation is expired" in page.content.decode()
    assert b'type="submit"' not in page.content.split(b"<main")[1]
    assert messages_of(response) == ["This invitation has expired. Ask for a new one."]
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_revoked_invitation_cannot_be_accepted(personas, client_for, newcomer, invitation):
    client_for(personas.owner).post(f"/settings/invitations/{invitation.pk}/revoke/")

    response = client_for(newcomer).post(accept_url(invitation))

    assert messages_of(response) == ["This invitation was withdrawn. Ask for a new one."]
    assert not Membership.objects.filter(user=newcomer).exists()


def test_someone_signed_in_with_another_address_learns_nothing_about_the_organisation(personas, client_for, invitation):
    stranger = UserFactory(email="stranger@example.com", full_name="")
    browser = client_for(stranger)

    page = browser.get(accept_url(invitation))
    response = browser.post(accept_url(invitation), follow=True)

    for body in (page.content.decode(), response.content.decode()):
        assert "This invitation is for someone else" in body
        assert "Acme" not in body
        assert "newcomer@acme.example" not in body
        assert escape(personas.owner.display_name) not in body
        assert "Viewer" not in body
    assert not Membership.objects.filter(user=stranger).exists()


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "eyJpbnZpdGF0aW9uIjoxfQ:1u2v3w:forgedsignatureforgedsignature00"],
)
def test_a_forged_link_shows_that_it_does_not_work(client_for, newcomer, invitation, token):
    browser = client_for(newcomer)

    page = browser.get(f"/invitations/{token}/")
    response = browser.post(f"/invitations/{token}/")

    assert "This invitation link does not work" in page.content.decode()
    assert "Acme" not in page.content.decode()
    assert messages_of(response) == ["This invitation link is not valid or has expired. Ask for a new one."]
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_mangled_link_shows_that_it_does_not_work(client_for, newcomer, invitation):
    token = services.invitation_token(invitation)

    page = client_for(newcomer).get(f"/invitations/{token[:-4]}/")

    assert "This invitation link does not work" in page.content.decode()


def test_an_anonymous_visitor_is_asked_to_sign_in_and_comes_back_to_the_link(client, newcomer, invitation):
    url = accept_url(invitation)

    response = client.get(url)

    assert response.status_code == 302
    assert unquote(response["Location"]) == f"/accounts/login/?next={url}"
    signed_in = client.post(response["Location"], {"login": newcomer.email, "password": "correct-horse-battery-staple"})
    assert signed_in["Location"] == url


def test_a_newcomer_signs_up_from_the_link_and_joins(client, invitation, settings, personas):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    url = accept_url(invitation)
    login_page = client.get(url)["Location"]
    signup_page = login_page.replace("/accounts/login/", "/accounts/signup/")
    password = "a-long-and-unusual-passphrase"

    response = client.post(
        signup_page, {"email": "newcomer@acme.example", "password1": password, "password2": password}
    )
    assert unquote(response["Location"]) == url
    client.post(url)

    membership = Membership.objects.get(user__email="newcomer@acme.example")
    assert (membership.organisation, membership.role) == (personas.organisation, Role.VIEWER)


# --- Audit log ------------------------------------------------------------------------------------
def test_the_audit_log_shows_this_organisations_events_newest_first(personas, client_for):
    AuditEventFactory(
        organisation=personas.organisation, summary="Older", created_at=timezone.now() - timedelta(hours=1)
    )
    AuditEventFactory(organisation=personas.organisation, summary="Newer")
    AuditEventFactory(organisation=personas.other_organisation, summary="Rival secret")

    response = client_for(personas.admin).get("/settings/audit/")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("Newer") < body.index("Older")
    assert "Rival secret" not in body


def test_the_audit_log_filters_by_kind_of_action(personas, client_for):
    AuditEventFactory(organisation=personas.organisation, action="invitation.created", summary="Invited someone")
    AuditEventFactory(organisation=personas.organisation, action="membership.removed", summary="Removed someone")

    response = client_for(personas.owner).get("/settings/audit/", {"action": "invitation."})

    assert [event.summary for event in response.context["page"]] == ["Invited someone"]


def test_the_audit_log_is_paginated(personas, client_for):
    AuditEventFactory.create_batch(30, organisation=personas.organisation)

    first = client_for(personas.owner).get("/settings/audit/")
    second = client_for(personas.owner).get("/settings/audit/", {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert b"Page 2 of 2" in second.content


def test_the_audit_log_with_htmx_returns_only_the_events(personas, client_for):
    AuditEventFactory.create_batch(30, organisation=personas.organisation, action="membership.removed")

    response = client_for(personas.owner).get("/settings/audit/", {"page": 2, "action": "membership."}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="events">')
    assert "<html" not in body
    assert "<form" not in body
    assert "Page 2 of 2" in body


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "999"}, {"action": "bogus"}])
def test_the_audit_log_shrugs_off_odd_queries(personas, client_for, query):
    AuditEventFactory(organisation=personas.organisation, summary="Only entry")

    response = client_for(personas.owner).get("/settings/audit/", query)

    assert response.status_code == 200
    assert b"Only entry" in response.content


def test_audit_events_record_the_connecting_address_not_a_claimed_one(personas, client_for):
    client_for(personas.owner).post(
        "/settings/", {"name": "Acme Patisserie"}, REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.99"
    )

    assert AuditEvent.objects.get(action="organisation.renamed").ip_address == "198.51.100.4"


def test_an_empty_audit_log_says_what_will_appear(personas, client_for):
    response = client_for(personas.owner).get("/settings/audit/", {"action": "invitation."})

    assert b"Nothing recorded for this filter yet" in response.content
