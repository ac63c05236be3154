"""The admin site: accounts data is browsable, audit events cannot be touched, and pages stay cheap."""

from __future__ import annotations

import re

import pytest

from accounts.models import AuditEvent, Membership, User
from accounts.roles import Role
from accounts.tests.factories import AuditEventFactory, InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(client_for):
    return client_for(User.objects.create_superuser("root@greenlight.example", password="a-long-secret-phrase"))


def grow(personas, size: int) -> None:
    AuditEventFactory.create_batch(size, organisation=personas.organisation, actor=personas.admin)
    InvitationFactory.create_batch(size, organisation=personas.organisation)
    MembershipFactory.create_batch(size, organisation=personas.organisation, role=Role.MEMBER)


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize(
    ("page", "queries"),
    [
        ("/admin/accounts/user/", 6),
        ("/admin/accounts/organisation/", 6),
        ("/admin/accounts/organisation/{organisation}/change/", 5),
        ("/admin/accounts/membership/", 6),
        ("/admin/accounts/invitation/", 6),
        ("/admin/accounts/auditevent/", 9),
        ("/admin/accounts/auditevent/{event}/change/", 5),
    ],
)
def test_admin_pages_do_not_grow_with_data(personas, staff_browser, django_assert_num_queries, size, page, queries):
    grow(personas, size)
    url = page.format(organisation=personas.organisation.pk, event=AuditEvent.objects.first().pk)
    staff_browser.get(url)  # warm the content-type cache, as a running server has

    with django_assert_num_queries(queries):
        assert staff_browser.get(url).status_code == 200


def test_audit_events_cannot_be_added_changed_or_deleted_in_the_admin(personas, staff_browser):
    event = AuditEventFactory(organisation=personas.organisation, summary="Keep me")

    assert staff_browser.get("/admin/accounts/auditevent/add/").status_code == 403
    assert staff_browser.post(f"/admin/accounts/auditevent/{event.pk}/change/", {"summary": "x"}).status_code == 403
    assert staff_browser.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert staff_browser.post(
        "/admin/accounts/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    ).status_code in {200, 302}
    assert AuditEvent.objects.get(pk=event.pk).summary == "Keep me"


def test_memberships_cannot_be_changed_around_the_rules_in_the_admin(personas, staff_browser):
    owner = personas.membership(personas.owner)

    response = staff_browser.post(f"/admin/accounts/membership/{owner.pk}/change/", {"role": Role.VIEWER})

    assert response.status_code == 403
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    assert staff_browser.post(f"/admin/accounts/membership/{owner.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_membership_list_shows_capabilities_from_the_roles_table(personas, staff_browser):
    response = staff_browser.get("/admin/accounts/membership/", {"role__exact": "viewer"})

    assert b"viewer@acme.example" in response.content
    assert b'<td class="field-capabilities">view</td>' in response.content


def test_renaming_an_organisation_in_the_admin_is_audited(personas, staff_browser):
    url = f"/admin/accounts/organisation/{personas.organisation.pk}/change/"
    # Post back the (read-only) inline's management form exactly as the page rendered it.
    page = staff_browser.get(url).content.decode()
    management = dict(re.findall(r'name="([^"]*-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', page))
    assert management

    response = staff_browser.post(url, {"name": "Acme Patisserie", **management})

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="organisation.renamed")
    assert event.summary == "Renamed the organisation from Acme Bakery Ltd to Acme Patisserie"
    assert event.actor_label == "root@greenlight.example"
