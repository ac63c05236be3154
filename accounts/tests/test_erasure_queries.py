"""Pinned query counts of the data and deletion pages: they must not grow with what the person or the
organisation holds. Every signed-in page starts with the session, the user and their memberships."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Organisation
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

REQUEST_BASELINE = 3  # session, user, memberships


def grow(personas, extra: int) -> None:
    """More organisations for the owner, and more people in Acme."""
    for _ in range(extra):
        MembershipFactory(organisation=OrganisationFactory(), user=personas.owner, role=Role.OWNER)
        MembershipFactory(organisation=personas.organisation, role=Role.MEMBER)


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


@pytest.mark.parametrize("extra", [0, 12])
def test_your_data_page(personas, owner_browser, django_assert_num_queries, extra):
    grow(personas, extra)
    with django_assert_num_queries(REQUEST_BASELINE):
        response = owner_browser.get("/account/data/")
    assert response.status_code == 200
    assert len(response.context["memberships"]) == 1 + extra


@pytest.mark.parametrize("extra", [0, 12])
def test_delete_account_page(personas, owner_browser, django_assert_num_queries, extra):
    grow(personas, extra)
    # + the memberships with whether each organisation has other members and other owners
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        response = owner_browser.get("/account/data/delete/")
    assert response.status_code == 200
    assert len(response.context["plan"].memberships) == 1 + extra


@pytest.mark.parametrize("due", [False, True])
def test_organisation_deletion_page(personas, owner_browser, django_assert_num_queries, due):
    if due:
        Organisation.objects.filter(pk=personas.organisation.pk).update(
            deletion_requested_at=timezone.now(),
            deletion_due_at=timezone.now() + timedelta(days=14),
            deletion_requested_by=personas.owner,
        )
    grow(personas, 5)
    # + the person who asked, when it has been asked for
    with django_assert_num_queries(REQUEST_BASELINE + (1 if due else 0)):
        assert owner_browser.get("/settings/delete/").status_code == 200


def test_the_banner_costs_no_query(personas, owner_browser, django_assert_num_queries):
    with django_assert_num_queries(REQUEST_BASELINE):
        owner_browser.get("/settings/")
    Organisation.objects.filter(pk=personas.organisation.pk).update(deletion_due_at=timezone.now())
    with django_assert_num_queries(REQUEST_BASELINE):
        assert b"will be deleted on" in owner_browser.get("/settings/").content
