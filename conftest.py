"""Project-wide fixtures: personas, one per role, plus an outsider from another organisation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, OrganisationFactory, UserFactory


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Tests never touch real services or the developer's files: eager tasks, local files in tmp."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Never reach a real AI provider from a test, whatever keys the machine has.
    settings.GEMINI_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    settings.AI_PROVIDER_ORDER = ["offline"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@dataclass
class Personas:
    organisation: Organisation
    owner: User
    admin: User
    member: User
    viewer: User
    consultant: User
    outsider: User
    other_organisation: Organisation

    def membership(self, user: User) -> Membership:
        return Membership.objects.get(user=user, organisation=self.organisation)


@pytest.fixture
def organisation(db) -> Organisation:
    return OrganisationFactory(name="Acme Bakery Ltd", slug="acme-bakery")


@pytest.fixture
def personas(organisation) -> Personas:
    def member(role: Role, email: str) -> User:
        return MembershipFactory(organisation=organisation, role=role, user=UserFactory(email=email)).user

    other = OrganisationFactory(name="Rival Widgets plc", slug="rival-widgets")
    outsider = MembershipFactory(
        organisation=other, role=Role.OWNER, user=UserFactory(email="outsider@rival.example")
    ).user
    return Personas(
        organisation=organisation,
        owner=member(Role.OWNER, "owner@acme.example"),
        admin=member(Role.ADMIN, "admin@acme.example"),
        member=member(Role.MEMBER, "member@acme.example"),
        viewer=member(Role.VIEWER, "viewer@acme.example"),
        consultant=member(Role.CONSULTANT, "consultant@acme.example"),
        outsider=outsider,
        other_organisation=other,
    )


@pytest.fixture
def client_for(client):
    """`client_for(user)` returns a client signed in as that user; `client_for(None)` is anonymous."""

    def make(user: User | None) -> Client:
        browser = Client()
        if user is not None:
            browser.force_login(user)
        return browser

    return make


@pytest.fixture(scope="module")
def library(django_db_setup, django_db_blocker):
    """The real framework library, loaded once per module and emptied after it (`usefixtures("library")`)."""
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from compliance.models import Control, ControlGroup, ControlMapping, Framework
    from compliance.search import FTS_TABLE

    with django_db_blocker.unblock():
        call_command("load_frameworks", stdout=StringIO())
        yield
        ControlMapping.objects.all().delete()
        Control.objects.all().delete()
        ControlGroup.objects.all().delete()
        Framework.objects.all().delete()
        # The SQLite full-text index is a table of its own: emptied too, or later tests in this worker
        # would search rows of controls that no longer exist.
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {FTS_TABLE}")


@pytest.fixture
def api_for(db):
    """`api_for(organisation, scopes=None, partner=None)` returns an APIClient holding a new key: the
    organisation's own (all scopes unless given), or, with `partner`, that partner's key (the partner
    must have a grant from the organisation). `client.key` is the ApiKey."""
    from rest_framework.test import APIClient

    from accounts.tests.factories import ApiKeyFactory, api_secret

    def make(organisation: Organisation | None = None, scopes=None, partner=None) -> APIClient:
        holder = {"partner": partner, "organisation": None} if partner is not None else {"organisation": organisation}
        key = ApiKeyFactory(**holder, **({"scopes": [str(scope) for scope in scopes]} if scopes is not None else {}))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret(key)}")
        client.key = key
        return client

    return make
