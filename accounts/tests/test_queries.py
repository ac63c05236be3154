"""Pinned query counts: a page's queries must not grow with the organisation's data.

Every signed-in page starts with the same three: the session, the user, and the user's memberships
(which the organisation middleware loads once for the switcher and `request.membership`).
"""

from __future__ import annotations

import pytest

from accounts import services
from accounts.roles import Role
from accounts.tests.factories import AuditEventFactory, InvitationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REQUEST_BASELINE = 3  # session, user, memberships


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


def grow(personas, *, members: int = 0, invitations: int = 0, events: int = 0) -> None:
    """Add data to Acme so a page has more to show; counts beyond the five personas."""
    for _ in range(members):
        MembershipFactory(organisation=personas.organisation, role=Role.MEMBER)
    for _ in range(invitations):
        InvitationFactory(organisation=personas.organisation, invited_by=personas.owner)
    if events:
        AuditEventFactory.create_batch(events, organisation=personas.organisation, actor=personas.admin)


def test_organisation_settings(owner_browser, django_assert_num_queries):
    with django_assert_num_queries(REQUEST_BASELINE):
        assert owner_browser.get("/settings/").status_code == 200


@pytest.mark.parametrize("extra", [0, 27])
def test_members_page_does_not_grow_with_members_or_invitations(
    personas, owner_browser, django_assert_num_queries, extra
):
    grow(personas, members=extra, invitations=extra // 3)

    # + the members (with their users) and the pending invitations
    with django_assert_num_queries(REQUEST_BASELINE + 2):
        response = owner_browser.get("/settings/members/")
    assert len(response.context["members"]) == 5 + extra


@pytest.mark.parametrize("events", [10, 100])
def test_audit_log_does_not_grow_with_events(personas, owner_browser, django_assert_num_queries, events):
    grow(personas, events=events)

    # + the count for the paginator and the page of events
    with django_assert_num_queries(REQUEST_BASELINE + 2):
        assert owner_browser.get("/settings/audit/").status_code == 200


@pytest.mark.parametrize("events", [10, 100])
def test_audit_log_fragment_does_not_grow_with_events(personas, owner_browser, django_assert_num_queries, events):
    grow(personas, events=events)

    with django_assert_num_queries(REQUEST_BASELINE + 2):
        response = owner_browser.get("/settings/audit/", {"action": "organisation.", "page": 2}, **HTMX)
    assert response.content.lstrip().startswith(b'<div id="events">')


def test_organisation_creation_page(client_for, django_assert_num_queries):
    browser = client_for(UserFactory())

    with django_assert_num_queries(REQUEST_BASELINE):
        assert browser.get("/organisations/new/").status_code == 200


def test_invitation_accept_page(personas, client_for, django_assert_num_queries):
    invitation = InvitationFactory(organisation=personas.organisation, invited_by=personas.owner)
    browser = client_for(UserFactory(email=invitation.email))
    url = f"/invitations/{services.invitation_token(invitation)}/"

    # + the invitation, with its organisation and inviter
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        response = browser.get(url)
    assert b"Accept and join" in response.content


def test_login_page_for_a_visitor(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/accounts/login/").status_code == 200


# --- htmx fragments after a change ----------------------------------------------------------------
# The writes themselves are a fixed number of queries (validation, the change, the audit event);
# what matters is that re-rendering the fragment does not grow with the organisation.
@pytest.mark.parametrize("extra", [0, 27])
def test_role_change_fragment(personas, owner_browser, django_assert_num_queries, extra):
    grow(personas, members=extra)
    target = personas.membership(personas.member)

    with django_assert_num_queries(18):
        response = owner_browser.post(f"/settings/members/{target.pk}/role/", {"role": Role.VIEWER}, **HTMX)
    assert response.content.lstrip().startswith(b'<section class="card" id="members">')


@pytest.mark.parametrize("extra", [0, 27])
def test_remove_member_fragment(personas, owner_browser, django_assert_num_queries, extra):
    grow(personas, members=extra)
    target = personas.membership(personas.viewer)

    with django_assert_num_queries(12):
        response = owner_browser.post(f"/settings/members/{target.pk}/remove/", **HTMX)
    assert response.content.lstrip().startswith(b'<section class="card" id="members">')


@pytest.mark.parametrize("extra", [0, 27])
def test_invitation_create_fragment(personas, owner_browser, django_assert_num_queries, extra):
    grow(personas, invitations=extra)

    with django_assert_num_queries(23):
        response = owner_browser.post(
            "/settings/invitations/", {"email": "newcomer@acme.example", "role": Role.MEMBER}, **HTMX
        )
    assert response.content.lstrip().startswith(b'<section class="card" id="invitations">')


@pytest.mark.parametrize("extra", [0, 27])
def test_invitation_resend_and_revoke_fragments(personas, owner_browser, django_assert_num_queries, extra):
    grow(personas, invitations=extra)
    invitation = InvitationFactory(organisation=personas.organisation)

    with django_assert_num_queries(12):
        owner_browser.post(f"/settings/invitations/{invitation.pk}/resend/", **HTMX)
    with django_assert_num_queries(12):
        response = owner_browser.post(f"/settings/invitations/{invitation.pk}/revoke/", **HTMX)
    assert response.content.lstrip().startswith(b'<section class="card" id="invitations">')
