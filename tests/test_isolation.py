"""Nothing of one organisation is ever shown to, or changed by, another: every role, every URL.

Builds two organisations with data in every tenant model, signs in as a member of organisation A with each
role in turn (the consultant is staff, as consultants are), and walks every URL the project has, filling
URL arguments with organisation B's objects, for GET and POST (`tests/isolation.py`, `walk_pages`). It
asserts that no response shows B's data, that URLs naming B's objects answer 404, that the session never
moves to B, that B's rows are byte-for-byte unchanged afterwards and that no row of A has come to point at
B. People who belong to both organisations, downloads, the API and the admin: `test_isolation_roles.py`.
"""

from __future__ import annotations

import pytest

from accounts.models import Membership
from accounts.roles import Role
from tests.isolation import (
    discover_routes,
    foreign_references,
    organisation_rows,
    person_in,
    secret_markers,
    two_organisations,
    walk_pages,
)

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.CONSULTANT]
# The only request by which a walker may take themselves out of their organisation (it is put back).
LEAVING = {("membership_leave", "POST")}


@pytest.fixture
def world():
    return two_organisations()


@pytest.mark.parametrize("role", ROLES, ids=[str(role) for role in ROLES])
def test_no_url_shows_or_changes_another_organisations_data(world, role):
    walker = person_in(world.visible, role, email=f"{role}@visible.example", staff=role == Role.CONSULTANT)
    markers = secret_markers(world.secret, world.visible)
    assert "Secretive Holdings Ltd" in markers
    before = organisation_rows(world.secret)
    references_before = foreign_references(world.visible)
    routes = discover_routes()
    assert any(route.is_ours and route.kwargs for route in routes), "expected object URLs to walk"

    walk = walk_pages(user=walker, world=world, markers=markers, routes=routes)

    assert walk.requests == 2 * len(routes)
    assert walk.follow_ups, "no request wrote anything: the walk reached no form"
    assert walk.switched == set()
    assert walk.own_membership_changed <= LEAVING, walk.own_membership_changed
    assert organisation_rows(world.secret) == before, "another organisation's data changed"
    assert foreign_references(world.visible) - references_before == set(), "a row now points at another organisation"
    assert Membership.objects.filter(organisation=world.secret, user=walker).count() == 0
