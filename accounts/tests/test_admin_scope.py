"""The admin's organisation scoping (accounts/admin_scope.py), and how consultants get into the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse

from accounts import services
from accounts.admin import MembershipInline
from accounts.admin_scope import (
    OrganisationScopedAdmin,
    ScopedAllValuesFieldListFilter,
    ScopedOrganisationFilter,
    ScopedRelatedFieldListFilter,
    consulted_organisation_ids,
    is_consultant,
    scoped_choices,
)
from accounts.audit import Actor
from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Organisation, User
from accounts.roles import Role
from accounts.tests.factories import (
    ApiKeyFactory,
    InvitationFactory,
    MembershipFactory,
    OrganisationFactory,
    PartnerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_consultant(personas) -> User:
    personas.consultant.is_staff = True
    personas.consultant.save(update_fields=["is_staff"])
    return personas.consultant


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root@greenlight.example", password="a-long-secret-phrase")


def request_for(user: User) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


# --- consultants get staff --------------------------------------------------------------------------
def test_accepting_a_consultant_invitation_opens_the_admin_and_the_organisation_sees_it(personas):
    newcomer = UserFactory(email="advisor@consulting.example")
    invitation = InvitationFactory(organisation=personas.organisation, email=newcomer.email, role=Role.CONSULTANT)

    services.invitation_accept(token=services.invitation_token(invitation), user=newcomer, actor=Actor(user=newcomer))

    newcomer.refresh_from_db()
    assert newcomer.is_staff
    assert not newcomer.is_superuser
    event = AuditEvent.objects.get(organisation=personas.organisation, action="user.admin_access_granted")
    assert event.summary == "Gave advisor@consulting.example access to the consultants' workspace"


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.VIEWER])
def test_accepting_any_other_invitation_gives_no_admin_access(personas, role):
    newcomer = UserFactory()
    invitation = InvitationFactory(organisation=personas.organisation, email=newcomer.email, role=role)

    services.invitation_accept(token=services.invitation_token(invitation), user=newcomer, actor=Actor(user=newcomer))

    newcomer.refresh_from_db()
    assert not newcomer.is_staff
    assert not AuditEvent.objects.filter(action="user.admin_access_granted").exists()


def test_making_a_member_a_consultant_opens_the_admin(personas):
    membership = personas.membership(personas.member)

    services.membership_change_role(
        membership=membership,
        role=Role.CONSULTANT,
        acting=personas.membership(personas.owner),
        actor=Actor(user=personas.owner),
    )

    personas.member.refresh_from_db()
    assert personas.member.is_staff
    assert (
        AuditEvent.objects.filter(organisation=personas.organisation, action="user.admin_access_granted").count() == 1
    )


def test_staff_is_kept_when_the_role_changes_away_but_the_admin_then_shows_nothing(personas, client_for):
    membership = personas.membership(personas.consultant)
    personas.consultant.is_staff = True
    personas.consultant.save(update_fields=["is_staff"])

    services.membership_change_role(
        membership=membership,
        role=Role.MEMBER,
        acting=personas.membership(personas.owner),
        actor=Actor(user=personas.owner),
    )

    personas.consultant.refresh_from_db()
    assert personas.consultant.is_staff
    browser = client_for(personas.consultant)
    assert browser.get(reverse("admin:accounts_organisation_changelist")).status_code == 403
    assert browser.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403
    assert "Acme Bakery Ltd" not in browser.get(reverse("admin:index")).content.decode()


def test_a_consultant_who_is_already_staff_is_not_granted_again(personas, staff_consultant):
    other = OrganisationFactory()
    invitation = InvitationFactory(organisation=other, email=staff_consultant.email, role=Role.CONSULTANT)

    services.invitation_accept(
        token=services.invitation_token(invitation), user=staff_consultant, actor=Actor(user=staff_consultant)
    )

    assert not AuditEvent.objects.filter(action="user.admin_access_granted").exists()
    assert consulted_organisation_ids(request_for(staff_consultant)) == {personas.organisation.pk, other.pk}


# --- who is a consultant --------------------------------------------------------------------------
def test_only_staff_with_consultant_memberships_are_consultants(personas, staff_consultant, superuser):
    assert is_consultant(request_for(staff_consultant))
    assert is_consultant(request_for(superuser))
    assert consulted_organisation_ids(request_for(superuser)) is None
    assert not is_consultant(request_for(personas.owner))
    personas.consultant.is_active = False
    assert not is_consultant(request_for(personas.consultant))


# --- choices and filters --------------------------------------------------------------------------
def test_relation_choices_are_the_consulted_organisations_own(personas, staff_consultant):
    request = request_for(staff_consultant)
    ApiKeyFactory(organisation=personas.organisation, name="Acme till")
    ApiKeyFactory(organisation=personas.other_organisation, name="Rival payroll")

    assert list(scoped_choices(Organisation, request)) == [personas.organisation]
    emails = set(scoped_choices(User, request).values_list("email", flat=True))
    assert "owner@acme.example" in emails
    assert "outsider@rival.example" not in emails
    assert set(scoped_choices(ApiKey, request).values_list("name", flat=True)) == {"Acme till"}
    assert set(scoped_choices(Membership, request).values_list("organisation", flat=True)) == {personas.organisation.pk}


def test_a_consultants_forms_offer_only_their_organisations_and_people(personas, staff_consultant):
    invitations = OrganisationScopedAdmin(Invitation, admin.site)
    form = invitations.get_form(request_for(staff_consultant))

    assert list(form.base_fields["organisation"].queryset) == [personas.organisation]
    offered = set(form.base_fields["invited_by"].queryset.values_list("email", flat=True))
    assert "owner@acme.example" in offered
    assert "outsider@rival.example" not in offered


class MembershipsEverywhere(OrganisationScopedAdmin):
    list_filter = [
        "organisation",
        "user",
        "organisation__name",
        ("user__email", admin.AllValuesFieldListFilter),
        ("user", admin.RelatedFieldListFilter),
        "role",
        ("organisation", admin.RelatedOnlyFieldListFilter),
    ]


def filter_choices(model_admin: admin.ModelAdmin, user: User) -> set[str]:
    changelist = model_admin.get_changelist_instance(request_for(user))
    return {str(choice["display"]) for spec in changelist.filter_specs for choice in spec.choices(changelist)}


def test_list_filters_across_relations_are_swapped_for_scoped_ones(staff_consultant):
    swapped = MembershipsEverywhere(Membership, admin.site).get_list_filter(request_for(staff_consultant))

    assert swapped == [
        ("organisation", ScopedOrganisationFilter),
        ("user", ScopedRelatedFieldListFilter),
        ("organisation__name", ScopedAllValuesFieldListFilter),
        ("user__email", ScopedAllValuesFieldListFilter),
        ("user", ScopedRelatedFieldListFilter),
        "role",
        ("organisation", admin.RelatedOnlyFieldListFilter),
    ]


def test_list_filter_choices_name_only_the_consulted_organisations(personas, staff_consultant, superuser):
    memberships = MembershipsEverywhere(Membership, admin.site)

    shown = filter_choices(memberships, staff_consultant)
    assert {"Acme Bakery Ltd", "owner@acme.example"} <= shown
    assert not {choice for choice in shown if "Rival" in choice or "rival" in choice}
    everything = filter_choices(memberships, superuser)
    assert {"Rival Widgets plc", "outsider@rival.example"} <= everything


# --- the accounts admins --------------------------------------------------------------------------
def test_a_consultant_reads_their_organisation_and_its_members_but_cannot_rename_it(
    personas, staff_consultant, client_for
):
    browser = client_for(staff_consultant)
    url = reverse("admin:accounts_organisation_change", args=[personas.organisation.pk])

    page = browser.get(url)

    assert page.status_code == 200
    html = page.content.decode()
    assert "owner@acme.example" in html  # the members inline, read-only
    assert "outsider@rival.example" not in html
    assert "/admin/accounts/user/" not in html  # no links into the superusers' user admin
    assert browser.post(url, {"name": "Renamed"}).status_code == 403
    assert Organisation.objects.get(pk=personas.organisation.pk).name == "Acme Bakery Ltd"


def test_the_members_inline_is_read_only_and_scoped(personas, staff_consultant, superuser):
    inline = MembershipInline(Organisation, admin.site)
    request = request_for(staff_consultant)

    assert inline.has_view_permission(request, personas.organisation)
    assert not inline.has_change_permission(request, personas.organisation)
    assert not inline.has_add_permission(request, personas.organisation)
    assert not inline.has_delete_permission(request, personas.organisation)
    assert {m.organisation_id for m in inline.get_queryset(request)} == {personas.organisation.pk}
    assert not inline.has_change_permission(request_for(superuser), personas.organisation)


@pytest.mark.parametrize("name", ["user", "partner", "apikey", "partnergrant"])
def test_people_partners_and_keys_are_for_superusers_only(personas, staff_consultant, superuser, client_for, name):
    ApiKeyFactory(organisation=personas.organisation)
    PartnerFactory()
    url = reverse(f"admin:accounts_{name}_changelist")

    assert client_for(staff_consultant).get(url).status_code == 403
    assert client_for(superuser).get(url).status_code == 200


def test_staff_given_model_permissions_still_cannot_open_partners_or_people(client_for):
    helpdesk = UserFactory(email="helpdesk@greenlight.example", is_staff=True)
    helpdesk.user_permissions.add(*Permission.objects.filter(codename__in=["view_partner", "view_user", "change_user"]))
    browser = client_for(helpdesk)

    assert browser.get(reverse("admin:accounts_partner_changelist")).status_code == 403
    assert browser.get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert browser.get(reverse("admin:accounts_user_change", args=[helpdesk.pk])).status_code == 403


@pytest.mark.parametrize("name", ["membership", "invitation", "auditevent"])
def test_a_consultant_may_not_add_change_or_delete_accounts_records(personas, staff_consultant, client_for, name):
    InvitationFactory(organisation=personas.organisation)
    MembershipFactory(organisation=personas.organisation)
    services.organisation_rename(organisation=personas.organisation, name="Acme Bakery Ltd", actor=Actor(user=None))
    model = {"membership": Membership, "invitation": Invitation, "auditevent": AuditEvent}[name]
    row = model.objects.filter(organisation=personas.organisation).first()
    browser = client_for(staff_consultant)

    assert browser.get(reverse(f"admin:accounts_{name}_changelist")).status_code == 200
    page = browser.get(reverse(f"admin:accounts_{name}_change", args=[row.pk]))
    assert page.status_code == 200
    assert "/admin/accounts/user/" not in page.content.decode()
    assert browser.get(reverse(f"admin:accounts_{name}_add")).status_code == 403
    assert browser.post(reverse(f"admin:accounts_{name}_change", args=[row.pk]), {}).status_code == 403
    assert browser.post(reverse(f"admin:accounts_{name}_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()
