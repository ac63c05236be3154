"""Who may reach what: the roles table, the access helpers, and every accounts view against every persona."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.urls import URLPattern

from accounts import access, services
from accounts import urls as accounts_urls
from accounts.models import Invitation, Membership, Organisation
from accounts.roles import ROLE_CAPABILITIES, Capability, Role, role_can
from accounts.tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- The roles table ------------------------------------------------------------------------------
def test_the_roles_table_says_who_may_view_edit_approve_and_administer():
    table = {role.value: {c.value for c in capabilities} for role, capabilities in ROLE_CAPABILITIES.items()}

    assert table == {
        "owner": {"view", "edit", "approve", "administer"},
        "admin": {"view", "edit", "approve", "administer"},
        "member": {"view", "edit"},
        "viewer": {"view"},
        "consultant": {"view", "edit", "approve"},
    }


def test_every_role_is_in_the_table():
    assert set(ROLE_CAPABILITIES) == set(Role)


def test_pages_read_their_permissions_from_the_roles_table(personas, client_for, monkeypatch):
    viewer = client_for(personas.viewer)
    assert viewer.get("/settings/audit/").status_code == 403

    monkeypatch.setitem(ROLE_CAPABILITIES, Role.VIEWER, frozenset({Capability.VIEW, Capability.ADMINISTER}))

    response = viewer.get("/settings/audit/")
    assert response.status_code == 200
    assert response.context["can_administer"] is True
    assert role_can(Role.VIEWER, Capability.ADMINISTER)


def test_taking_a_capability_away_in_the_table_closes_the_page(personas, client_for, monkeypatch):
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.ADMIN, frozenset({Capability.VIEW}))

    assert client_for(personas.admin).get("/settings/audit/").status_code == 403


@pytest.mark.parametrize("persona", ["owner", "admin", "member", "viewer", "consultant"])
def test_pages_know_what_the_current_role_may_do(personas, client_for, persona):
    role = Role(persona)

    context = client_for(getattr(personas, persona)).get("/settings/").context

    assert context["can_edit"] is (Capability.EDIT in ROLE_CAPABILITIES[role])
    assert context["can_administer"] is (Capability.ADMINISTER in ROLE_CAPABILITIES[role])
    assert context["current_membership"].role == role


# --- Access helpers -------------------------------------------------------------------------------
def request_as(membership: Membership | None):
    request = RequestFactory().get("/")
    request.membership = membership
    request.organisation = membership.organisation if membership else None
    return request


def test_get_membership_for_returns_an_object_of_your_own_organisation(personas):
    target = personas.membership(personas.member)

    found = access.get_membership_for(request_as(personas.membership(personas.viewer)), target.pk)

    assert found == target


def test_get_membership_for_another_organisations_object_is_404(personas):
    theirs = Membership.objects.get(user=personas.outsider)

    with pytest.raises(Http404):
        access.get_membership_for(request_as(personas.membership(personas.owner)), theirs.pk)


def test_another_organisations_object_is_404_even_when_the_role_is_too_low(personas):
    theirs = Membership.objects.get(user=personas.outsider)

    # A 403 here would confirm that the id exists somewhere.
    with pytest.raises(Http404):
        access.get_membership_for(request_as(personas.membership(personas.viewer)), theirs.pk, write=True)


def test_writing_needs_the_administer_capability(personas):
    target = personas.membership(personas.member)

    with pytest.raises(PermissionDenied):
        access.get_membership_for(request_as(personas.membership(personas.member)), target.pk, write=True)
    assert access.get_membership_for(request_as(personas.membership(personas.admin)), target.pk, write=True) == target


@pytest.mark.parametrize("pk", [999_999, "abc", None])
def test_missing_or_malformed_ids_are_404(personas, pk):
    with pytest.raises(Http404):
        access.get_invitation_for(request_as(personas.membership(personas.owner)), pk)


def test_get_invitation_for_is_scoped_to_the_organisation(personas):
    ours = InvitationFactory(organisation=personas.organisation)
    theirs = InvitationFactory(organisation=personas.other_organisation)
    request = request_as(personas.membership(personas.owner))

    assert access.get_invitation_for(request, ours.pk, write=True) == ours
    with pytest.raises(Http404):
        access.get_invitation_for(request, theirs.pk)


def test_without_a_membership_there_is_nothing_to_fetch(personas):
    with pytest.raises(Http404):
        access.get_membership_for(request_as(None), personas.membership(personas.owner).pk)


def test_current_organisation_is_the_requests(personas):
    assert access.current_organisation(request_as(personas.membership(personas.viewer))) == personas.organisation


# --- The view matrix ------------------------------------------------------------------------------
PERSONAS = ["owner", "admin", "member", "viewer", "consultant", "outsider", "no_organisation", "anonymous"]
ADMINISTRATORS = frozenset({"owner", "admin"})
EVERYONE = frozenset({"owner", "admin", "member", "viewer", "consultant"})


@dataclass(frozen=True)
class Case:
    """One view and method, and who may use it. `path` is a template; `{id}` is an Acme object's id."""

    url_name: str
    method: str
    path: str
    allowed: frozenset[str]
    success: int
    wrong_method: str
    needs_membership: bool = True
    target: Callable[..., object] | None = None
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.url_name}"


CASES = [
    Case("organisation_create", "get", "/organisations/new/", EVERYONE, 200, "put", needs_membership=False),
    Case(
        "organisation_create",
        "post",
        "/organisations/new/",
        EVERYONE,
        302,
        "put",
        needs_membership=False,
        data={"name": "Crumb"},
    ),
    Case("organisation_switch", "post", "/organisations/switch/", EVERYONE, 302, "get", needs_membership=False),
    Case("settings_organisation", "get", "/settings/", EVERYONE, 200, "put"),
    Case("settings_organisation", "post", "/settings/", ADMINISTRATORS, 302, "put", data={"name": "Renamed Ltd"}),
    Case("settings_members", "get", "/settings/members/", EVERYONE, 200, "post"),
    Case("membership_leave", "post", "/settings/members/leave/", EVERYONE, 302, "get"),
    Case(
        "membership_role_update",
        "post",
        "/settings/members/{id}/role/",
        ADMINISTRATORS,
        302,
        "get",
        target=lambda p: p.membership(p.member),
        data={"role": "viewer"},
    ),
    Case(
        "membership_remove",
        "post",
        "/settings/members/{id}/remove/",
        ADMINISTRATORS,
        302,
        "get",
        target=lambda p: p.membership(p.viewer),
    ),
    Case(
        "invitation_create",
        "post",
        "/settings/invitations/",
        ADMINISTRATORS,
        302,
        "get",
        data={"email": "newcomer@acme.example", "role": "member"},
    ),
    Case(
        "invitation_resend",
        "post",
        "/settings/invitations/{id}/resend/",
        ADMINISTRATORS,
        302,
        "get",
        target=lambda p: InvitationFactory(organisation=p.organisation),
    ),
    Case(
        "invitation_revoke",
        "post",
        "/settings/invitations/{id}/revoke/",
        ADMINISTRATORS,
        302,
        "get",
        target=lambda p: InvitationFactory(organisation=p.organisation),
    ),
    Case("audit_log", "get", "/settings/audit/", ADMINISTRATORS, 200, "post"),
    Case("organisation_logo", "get", "/settings/logo/", EVERYONE, 404, "post"),
    Case("invitation_accept", "get", "/invitations/{token}/", EVERYONE, 200, "put", needs_membership=False),
    Case("invitation_accept", "post", "/invitations/{token}/", EVERYONE, 302, "put", needs_membership=False),
]


def test_the_matrix_covers_every_accounts_view():
    routed = {pattern.name for pattern in accounts_urls.urlpatterns if isinstance(pattern, URLPattern)}

    assert routed == {case.url_name for case in CASES}


def build(case: Case, personas, object_id: object = None) -> tuple[str, dict[str, str]]:
    data = dict(case.data)
    if case.url_name == "organisation_switch":
        data["organisation"] = str(personas.organisation.pk)
    if object_id is None and case.target is not None:
        object_id = case.target(personas).pk
    token = services.invitation_token(InvitationFactory(organisation=personas.organisation, email="someone@x.example"))
    return case.path.format(id=object_id, token=token), data


def user_for(persona: str, personas):
    if persona == "anonymous":
        return None
    if persona == "no_organisation":
        return UserFactory(email="lonely@example.com")
    return getattr(personas, persona)


def expected_status(case: Case, persona: str) -> int:
    if persona == "anonymous":
        return 302
    if persona == "no_organisation":
        return 302 if case.needs_membership else case.success
    if persona == "outsider":
        # Outsiders own another organisation: an Acme object does not exist for them.
        return 404 if case.target else case.success
    return case.success if persona in case.allowed else 403


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_view_matrix(case, persona, personas, client_for):
    path, data = build(case, personas)

    response = getattr(client_for(user_for(persona, personas)), case.method)(path, data)

    assert response.status_code == expected_status(case, persona)
    if persona == "anonymous":
        assert unquote(response["Location"]) == f"/accounts/login/?next={path}"
    elif persona == "no_organisation" and case.needs_membership:
        assert response["Location"] == "/organisations/new/"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_view_matrix_wrong_method_is_405(case, personas, client_for):
    path, _ = build(case, personas)

    response = getattr(client_for(personas.owner), case.wrong_method)(path)

    assert response.status_code == 405


OBJECT_CASES = [case for case in CASES if case.target is not None]


@pytest.mark.parametrize("case", OBJECT_CASES, ids=str)
def test_view_matrix_nonexistent_id_is_404(case, personas, client_for):
    path, data = build(case, personas, object_id=999_999)

    assert getattr(client_for(personas.owner), case.method)(path, data).status_code == 404


@pytest.mark.parametrize("case", OBJECT_CASES, ids=str)
@pytest.mark.parametrize("malformed", ["abc", "-1", "1.5", "%20"])
def test_view_matrix_malformed_id_is_404(case, malformed, personas, client_for):
    path, data = build(case, personas, object_id=malformed)

    assert getattr(client_for(personas.owner), case.method)(path, data).status_code == 404


@pytest.mark.parametrize("case", OBJECT_CASES, ids=str)
def test_an_outsider_changes_nothing_of_another_organisation(case, personas, client_for):
    path, data = build(case, personas)
    before = (
        sorted(Membership.objects.filter(organisation=personas.organisation).values_list("pk", "role")),
        sorted(Invitation.objects.values_list("pk", "created_at", "revoked_at")),
    )

    client_for(personas.outsider).post(path, data)

    after = (
        sorted(Membership.objects.filter(organisation=personas.organisation).values_list("pk", "role")),
        sorted(Invitation.objects.values_list("pk", "created_at", "revoked_at")),
    )
    assert after == before


def test_an_outsider_renaming_settings_renames_only_their_own_organisation(personas, client_for):
    client_for(personas.outsider).post("/settings/", {"name": "Renamed Ltd"})

    assert Organisation.objects.get(pk=personas.organisation.pk).name == "Acme Bakery Ltd"
    assert Organisation.objects.get(pk=personas.other_organisation.pk).name == "Renamed Ltd"
