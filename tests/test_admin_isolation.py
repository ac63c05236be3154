"""The admin is as safe as the pages: a consultant of one organisation reaches nothing of another.

Every registered ModelAdmin is discovered (admin.site._registry), so admins added later are covered
without editing this file. Two organisations get data in every tenant model; a staff consultant of the
visible one walks every admin's changelist, change, history and delete views, runs every action with the
secret organisation's ids, and asks the autocomplete endpoint for every relation. Nothing of the secret
organisation may be shown, and its rows must be unchanged afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.admin_scope import OrganisationScopedAdmin
from accounts.models import ApiKey, Membership, Organisation, User
from accounts.roles import Role
from accounts.tenancy import TenantModel, tenant_models
from accounts.tests.factories import ApiKeyFactory, MembershipFactory, OrganisationFactory, UserFactory
from chat.models import Conversation
from tests.isolation import build_tenant_data, organisation_rows, secret_markers

pytestmark = pytest.mark.django_db

# The framework library is not tenant data: every staff user may read it (compliance/admin.py).
LIBRARY_APPS = {"compliance"}


def organisation_path(model_admin: admin.ModelAdmin) -> str | None:
    """How the admin's rows lead to their organisation, or None when they belong to none."""
    if isinstance(model_admin, OrganisationScopedAdmin):
        return model_admin.organisation_path
    model = model_admin.model
    if model is Organisation:
        return "pk"
    try:
        field = model._meta.get_field("organisation")
    except FieldDoesNotExist:
        return None
    return "organisation" if field.is_relation and field.related_model is Organisation else None


def rows_of(model: type[models.Model], path: str, organisation: Organisation) -> models.QuerySet[Any]:
    if path in ("", "pk"):
        return model._default_manager.filter(pk=organisation.pk)
    return model._default_manager.filter(**{path: organisation})


def registered() -> list[tuple[type[models.Model], admin.ModelAdmin]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


TENANT_ADMINS = [(model, model_admin) for model, model_admin in registered() if organisation_path(model_admin)]
OTHER_ADMINS = [
    (model, model_admin)
    for model, model_admin in registered()
    if not organisation_path(model_admin) and model._meta.app_label not in LIBRARY_APPS
]


def ids(pairs: list[tuple[type[models.Model], admin.ModelAdmin]]) -> list[str]:
    return [model._meta.label for model, _ in pairs]


@dataclass
class World:
    visible: Organisation
    secret: Organisation
    consultant: User
    superuser: User
    markers: set[str]

    def browser(self, user: User) -> Client:
        browser = Client()
        browser.force_login(user)
        return browser

    def request(self, user: User) -> Any:
        request = RequestFactory().get("/admin/")
        request.user = user
        return request


@pytest.fixture
def world() -> World:
    visible = OrganisationFactory(name="Visible Ventures Ltd", slug="visible-ventures")
    secret = OrganisationFactory(name="Secretive Holdings Ltd", slug="secretive-holdings")
    consultant = UserFactory(email="consultant@visible.example", full_name="Vera Visible", is_staff=True)
    MembershipFactory(organisation=visible, role=Role.CONSULTANT, user=consultant)
    MembershipFactory(
        organisation=secret,
        role=Role.OWNER,
        user=UserFactory(email="owner@secretive.example", full_name="Sebastian Secretive"),
    )
    build_tenant_data(visible)
    build_tenant_data(secret)
    # The consultants' queue lists escalated conversations only: escalate every one, in both.
    Conversation.objects.update(escalated_at=timezone.now())
    ApiKeyFactory(organisation=visible, name="Visible till sync")
    ApiKeyFactory(organisation=secret, name="Secretive payroll sync")
    markers = secret_markers(secret, visible) | {"Secretive payroll sync"}
    assert "Secretive Holdings Ltd" in markers
    superuser = User.objects.create_superuser("root@greenlight.example", password="a-long-secret-phrase")
    return World(visible, secret, consultant, superuser, markers)


def body_of(response: Any) -> str:
    content = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    text = content.decode(errors="replace")
    return text + " " + " ".join(f"{key}: {value}" for key, value in response.headers.items())


def assert_no_leak(response: Any, markers: set[str], where: str) -> None:
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    text = body_of(response)
    for marker in markers:
        assert marker not in text, f"{where} shows {marker!r} of another organisation"
        assert escape(marker) not in text, f"{where} shows {marker!r} of another organisation"


def assert_not_found(response: Any, where: str) -> None:
    """404 or 403; Django's admin answers a missing object with a redirect to its index."""
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index"), f"{where} redirected to {response['Location']}"
    else:
        assert response.status_code in (403, 404), f"{where} answered {response.status_code}"


def url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def secret_row(model: type[models.Model], model_admin: admin.ModelAdmin, world: World) -> models.Model:
    path = organisation_path(model_admin)
    assert path is not None
    row = rows_of(model, path, world.secret).order_by("pk").first()
    assert row is not None, f"no {model._meta.label} of the secret organisation: add a factory"
    return row


def visible_row(model_admin: admin.ModelAdmin, world: World) -> models.Model | None:
    """One of the visible organisation's rows the admin itself lists (its queryset may narrow further)."""
    path = organisation_path(model_admin)
    assert path is not None
    queryset = model_admin.get_queryset(world.request(world.superuser))
    return rows_of(queryset.model, path, world.visible).filter(pk__in=queryset.values("pk")).order_by("pk").first()


# --- changelists ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_a_consultant_lists_only_their_organisations_rows(world, model, model_admin):
    browser = world.browser(world.consultant)
    changelist = url(model, "changelist")

    for query in ({}, {"q": "Secretive"}, {"q": "secretive.example"}, {"all": "1"}):
        response = browser.get(changelist, query)
        assert_no_leak(response, world.markers, f"changelist {changelist} {query}")

    response = browser.get(changelist, {"all": "1"})
    if response.status_code == 403:
        return  # closed to consultants (partners' grants, say): nothing shown, nothing more to check
    assert response.status_code == 200
    # The same page as a superuser, default filters and all, narrowed to the consultant's organisation.
    everything = world.browser(world.superuser).get(changelist, {"all": "1"}).context["cl"].queryset
    expected = set(rows_of(model, organisation_path(model_admin), world.visible).filter(pk__in=everything.values("pk")))
    assert set(response.context["cl"].result_list) == expected, f"{model._meta.label}: the consultant's own rows"


@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_a_superuser_sees_both_organisations(world, model, model_admin):
    response = world.browser(world.superuser).get(url(model, "changelist"), {"all": "1"})

    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    everything = model_admin.get_queryset(world.request(world.superuser))
    path = organisation_path(model_admin)
    visible, secret = (
        shown
        & set(rows_of(model, path, organisation).filter(pk__in=everything.values("pk")).values_list("pk", flat=True))
        for organisation in (world.visible, world.secret)
    )
    # Both organisations have the same data; default filters (a queue opening on what awaits review) may
    # hide rows, but alike in both.
    assert bool(visible) == bool(secret), f"{model._meta.label}: the superuser sees one organisation only"
    assert secret or not shown, f"{model._meta.label}: the superuser sees none of the second organisation"


# --- one object of the other organisation ---------------------------------------------------------
@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_another_organisations_object_cannot_be_seen_changed_or_deleted(world, model, model_admin):
    browser = world.browser(world.consultant)
    row = secret_row(model, model_admin, world)
    before = organisation_rows(world.secret)
    keys_before = list(ApiKey.objects.filter(organisation=world.secret).values())
    payload = {
        "organisation": str(world.visible.pk),
        "name": "Renamed by a consultant",
        "title": "Retitled by a consultant",
        "role": Role.VIEWER,
        "email": "intruder@visible.example",
        "_save": "Save",
    }

    for view in ("change", "history", "delete"):
        where = f"GET {model._meta.label} {view} of another organisation's object"
        response = browser.get(url(model, view, row.pk))
        assert_not_found(response, where)
        assert_no_leak(response, world.markers, where)
        assert_no_leak(browser.get(url(model, view, row.pk), follow=True), world.markers, where)
    for view, data in (("change", payload), ("delete", {"post": "yes"})):
        where = f"POST {model._meta.label} {view} of another organisation's object"
        response = browser.post(url(model, view, row.pk), data)
        assert_not_found(response, where)
        assert_no_leak(response, world.markers, where)

    assert organisation_rows(world.secret) == before, f"{model._meta.label}: another organisation's data changed"
    assert list(ApiKey.objects.filter(organisation=world.secret).values()) == keys_before


@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_actions_run_with_another_organisations_ids_change_nothing(world, model, model_admin):
    browser = world.browser(world.consultant)
    secret_ids = [
        str(pk) for pk in rows_of(model, organisation_path(model_admin), world.secret).values_list("pk", flat=True)
    ]
    before = organisation_rows(world.secret)
    keys_before = list(ApiKey.objects.filter(organisation=world.secret).values())
    actions = model_admin.get_actions(world.request(world.consultant))

    for name in actions:
        for confirm in ({}, {"post": "yes"}):
            response = browser.post(
                url(model, "changelist"),
                {"action": name, "_selected_action": secret_ids, "index": "0", **confirm},
            )
            assert_no_leak(response, world.markers, f"action {name} of {model._meta.label} with another's ids")

    assert organisation_rows(world.secret) == before, f"{model._meta.label}: an action changed another's data"
    assert list(ApiKey.objects.filter(organisation=world.secret).values()) == keys_before


@pytest.mark.parametrize(("model", "model_admin"), TENANT_ADMINS, ids=ids(TENANT_ADMINS))
def test_the_change_page_of_an_own_object_shows_nothing_of_another(world, model, model_admin):
    """Inlines, filter choices, related-object widgets: nothing of the other organisation."""
    row = visible_row(model_admin, world)
    if row is None:
        pytest.skip(f"{model._meta.label}: the admin lists none of the visible organisation's rows")
    browser = world.browser(world.consultant)

    for view in ("change", "history"):
        response = browser.get(url(model, view, row.pk))
        assert response.status_code in (200, 403), f"{model._meta.label} {view} answered {response.status_code}"
        assert_no_leak(response, world.markers, f"{model._meta.label} {view} of an own object")


# --- autocomplete ---------------------------------------------------------------------------------
def relations() -> list[tuple[type[models.Model], models.Field]]:
    """Every forward relation whose target has an admin: the autocomplete endpoint answers for any of them,
    not only for those an admin lists in autocomplete_fields."""
    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if field.is_relation and not field.auto_created and field.related_model in admin.site._registry:
                found.append((model, field))
    return found


def secret_ids_of(model: type[models.Model], world: World) -> set[str]:
    if model is Organisation:
        return {str(world.secret.pk)}
    if model is User:
        theirs = Membership.objects.filter(organisation=world.secret).values("user_id")
        ours = Membership.objects.filter(organisation=world.visible).values("user_id")
        return {str(pk) for pk in User.objects.filter(pk__in=theirs).exclude(pk__in=ours).values_list("pk", flat=True)}
    path = organisation_path(admin.site._registry[model])
    if path is None:
        return set()
    return {str(pk) for pk in rows_of(model, path, world.secret).values_list("pk", flat=True)}


def test_autocomplete_returns_nothing_of_another_organisation(world):
    browser = world.browser(world.consultant)
    checked = 0
    for model, field in relations():
        for term in ("", "Secretive", "secretive.example"):
            response = browser.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                    "term": term,
                },
            )
            where = f"autocomplete {model._meta.label}.{field.name} {term!r}"
            assert_no_leak(response, world.markers, where)
            if response.status_code != 200:
                assert response.status_code in (403, 404), f"{where} answered {response.status_code}"
                continue
            shown = {result["id"] for result in response.json()["results"]}
            assert not shown & secret_ids_of(field.related_model, world), f"{where} lists another's objects"
            checked += 1
    assert checked, "expected some autocomplete a consultant may use"


# --- who may open what ----------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "model_admin"), OTHER_ADMINS, ids=ids(OTHER_ADMINS))
def test_admins_of_no_organisation_are_closed_to_consultants(world, model, model_admin):
    """People's credentials, partners and their keys, schedules: superusers only (the library excepted)."""
    browser = world.browser(world.consultant)

    assert browser.get(url(model, "changelist")).status_code == 403
    assert model._meta.label not in {
        entry["object_name"]
        for app in browser.get(reverse("admin:index")).context["app_list"]
        for entry in app["models"]
    }


def test_staff_without_consultant_memberships_see_nothing_of_any_organisation(world):
    # A former consultant of the visible organisation, now a member there: staff is never taken away.
    former = UserFactory(email="former@visible.example", is_staff=True)
    MembershipFactory(organisation=world.visible, role=Role.MEMBER, user=former)
    browser = world.browser(former)
    tenant = {model for model, _ in TENANT_ADMINS} | set(tenant_models())

    for model, model_admin in TENANT_ADMINS:
        assert browser.get(url(model, "changelist")).status_code == 403, model._meta.label
        row = visible_row(model_admin, world) or secret_row(model, model_admin, world)
        assert browser.get(url(model, "change", row.pk)).status_code == 403, model._meta.label
    index = browser.get(reverse("admin:index"))
    listed = {entry["model"] for app in index.context["app_list"] for entry in app["models"]}
    assert not listed & tenant, f"the index lists {listed & tenant}"
    assert "Visible Ventures Ltd" not in index.content.decode()


def test_every_tenant_model_admin_is_scoped_or_closed(world):
    """A tenant model's admin either scopes through the base class or is closed to consultants."""
    request = world.request(world.consultant)
    for model, model_admin in registered():
        if issubclass(model, TenantModel) and not isinstance(model_admin, OrganisationScopedAdmin):
            assert not model_admin.has_view_permission(request), f"{model._meta.label} is neither scoped nor closed"
