"""Every admin changelist costs the same number of queries with 1 row per model as with 5.

Discovers every registered ModelAdmin, so admins added later are covered. Each changelist is measured
as a staff consultant (where they may open it) and as a superuser, with no filter and with every choice
of its own list filters (queues that open on a default filter would otherwise list nothing), once
after creating one row per model and again after creating four more.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db import connection, models
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import Role
from accounts.tenancy import TenantModel
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from chat.models import Conversation
from tests.isolation import factories_by_model

pytestmark = pytest.mark.django_db


def grow(organisation: Organisation, count: int) -> None:
    """`count` more rows of every model with a factory: the consultant's organisation's for tenant models."""
    for model, model_factory in factories_by_model().items():
        for _ in range(count):
            if issubclass(model, TenantModel):
                model_factory(organisation=organisation)
            else:
                model_factory()
    # The consultants' queue lists escalated conversations only.
    Conversation.objects.filter(escalated_at__isnull=True).update(escalated_at=timezone.now())


def pages(model: type[models.Model], model_admin: admin.ModelAdmin, user: User) -> list[str]:
    """The changelist, and the changelist under each choice of its own (simple) list filters."""
    request = RequestFactory().get("/admin/")
    request.user = user
    base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    found = [base]
    for entry in model_admin.get_list_filter(request):
        if isinstance(entry, type) and issubclass(entry, admin.SimpleListFilter):
            list_filter = entry(request, {}, model, model_admin)
            found += [f"{base}?{list_filter.parameter_name}={value}" for value, _ in list_filter.lookup_choices]
    return found


def measure(browsers: dict[str, tuple[User, Client]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for who, (user, browser) in browsers.items():
        for model, model_admin in admin.site._registry.items():
            request = RequestFactory().get("/admin/")
            request.user = user
            if not model_admin.has_view_permission(request):
                continue
            for page in pages(model, model_admin, user):
                assert browser.get(page).status_code == 200, f"{who} {page}"  # warm the caches a server has
                with CaptureQueriesContext(connection) as queries:
                    response = browser.get(page)
                assert response.status_code == 200, f"{who} {page}"
                counts[f"{who} {page}"] = len(queries)
    return counts


def test_every_changelist_costs_the_same_with_one_row_and_with_five():
    organisation = OrganisationFactory(name="Acme Bakery Ltd", slug="acme-bakery")
    consultant = UserFactory(email="consultant@acme.example", is_staff=True)
    MembershipFactory(organisation=organisation, role=Role.CONSULTANT, user=consultant)
    superuser = User.objects.create_superuser("root@greenlight.example", password="a-long-secret-phrase")
    browsers = {}
    for who, user in (("consultant", consultant), ("superuser", superuser)):
        browser = Client()
        browser.force_login(user)
        browsers[who] = (user, browser)

    grow(organisation, 1)
    with_one = measure(browsers)
    grow(organisation, 4)
    with_five = measure(browsers)

    assert any(page.startswith("consultant ") for page in with_one), "expected changelists a consultant may open"
    grown = {page: (with_one[page], count) for page, count in with_five.items() if count != with_one.get(page)}
    assert not grown, f"changelists whose queries grow with the data (1 row, 5 rows): {grown}"


def test_a_consultants_changelist_rows_come_from_the_same_few_queries(client_for: Any):
    """The organisation list of a consultant of several organisations: one query for the rows."""
    consultant = UserFactory(email="consultant@acme.example", is_staff=True)
    for _ in range(3):
        MembershipFactory(organisation=OrganisationFactory(), role=Role.CONSULTANT, user=consultant)
    browser = client_for(consultant)
    url = reverse("admin:accounts_organisation_changelist")
    browser.get(url)

    with CaptureQueriesContext(connection) as few:
        browser.get(url)
    for _ in range(3):
        MembershipFactory(organisation=OrganisationFactory(), role=Role.CONSULTANT, user=consultant)
    with CaptureQueriesContext(connection) as more:
        response = browser.get(url)

    assert response.context["cl"].result_count == 6
    assert len(more) == len(few)
