"""Deleting an organisation: an owner asks (typing its name and their password), everyone sees when, any
owner can cancel, and once the grace period is over the daily task removes every row and every file of it,
and nothing of anyone else's."""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts import erasure
from accounts.audit import Actor
from accounts.models import ApiKey, AuditEvent, Membership, Organisation, User
from accounts.tasks import delete_due_organisations
from accounts.tests.factories import (
    DEFAULT_PASSWORD,
    ApiKeyFactory,
    DataExportFactory,
    PartnerFactory,
    PartnerGrantFactory,
)
from assessments.tests.factories import ReportRunFactory
from evidence.tests.factories import EvidenceRevisionFactory
from tests.isolation import build_tenant_data

pytestmark = pytest.mark.django_db

PAGE = "/settings/delete/"
CANCEL = "/settings/delete/cancel/"


def _browser(client_for, user):
    browser = client_for(user)
    browser.get("/")  # settle the session's current organisation
    return browser


def _ask(browser, *, name: str = "Acme Bakery Ltd", password: str = DEFAULT_PASSWORD):
    return browser.post(PAGE, {"name": name, "password": password})


def _state(organisation: Organisation) -> tuple[object, ...]:
    organisation.refresh_from_db()
    return (
        organisation.deletion_requested_at,
        organisation.deletion_due_at,
        AuditEvent.objects.filter(organisation=organisation).count(),
    )


def _schedule(organisation: Organisation, *, due: datetime) -> None:
    Organisation.objects.filter(pk=organisation.pk).update(
        deletion_requested_at=due - timedelta(days=15), deletion_due_at=due
    )


# --- Asking ----------------------------------------------------------------------------------------------
def test_owner_asks_and_owners_and_admins_are_emailed(personas, client_for, django_capture_on_commit_callbacks):
    browser = _browser(client_for, personas.owner)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "People keep their Greenlight accounts" in page.content.decode()
    assert reverse("settings_data_export") in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = _ask(browser, name="  acme bakery   LTD ")

    assert response.status_code == 302
    organisation = personas.organisation
    organisation.refresh_from_db()
    assert organisation.deletion_requested_by == personas.owner
    # At least the whole grace period: from the start of the day after it.
    due = timezone.localtime(organisation.deletion_due_at)
    assert (due.hour, due.minute) == (0, 0)
    assert due.date() == timezone.localdate() + timedelta(days=15)
    assert organisation.deletion_due_at - organisation.deletion_requested_at >= timedelta(days=14)
    event = AuditEvent.objects.get(organisation=organisation, action="organisation.deletion_requested")
    assert event.actor == personas.owner
    assert sorted(address for message in mail.outbox for address in message.to) == [
        "admin@acme.example",
        "owner@acme.example",
    ]
    day = f"{due.day} {due:%B %Y}"
    assert day in mail.outbox[0].subject
    assert "any owner can cancel" in mail.outbox[0].body
    followed = browser.get(PAGE).content.decode()
    assert f"will be deleted on {day}" in followed
    assert "Cancel deletion" in followed


@pytest.mark.parametrize("role", ["admin", "member", "viewer", "consultant"])
def test_only_owners_may_ask_or_cancel(personas, client_for, role):
    user = getattr(personas, role)
    browser = _browser(client_for, user)
    before = _state(personas.organisation)

    assert browser.get(PAGE).status_code == 403
    assert _ask(browser).status_code == 403
    assert browser.post(CANCEL).status_code == 403
    assert _state(personas.organisation) == before


@pytest.mark.parametrize(
    "typed",
    [{"name": "Acme Bakery"}, {"password": "not-my-password"}, {"name": "", "password": ""}],
    ids=["wrong name", "wrong password", "nothing typed"],
)
def test_wrong_name_or_password_is_refused_and_nothing_changes(personas, client_for, typed):
    browser = _browser(client_for, personas.owner)
    before = _state(personas.organisation)

    response = _ask(browser, **typed)

    assert response.status_code == 400
    assert _state(personas.organisation) == before
    assert len(mail.outbox) == 0


def test_asking_twice_keeps_the_first_date(personas, client_for):
    due = timezone.now() + timedelta(days=3)
    _schedule(personas.organisation, due=due)
    response = _ask(_browser(client_for, personas.owner))
    assert response.status_code == 400
    personas.organisation.refresh_from_db()
    assert personas.organisation.deletion_due_at == due


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    for response in (client_for(None).get(PAGE), client_for(None).post(CANCEL)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


# --- While it waits ------------------------------------------------------------------------------------
def test_every_page_of_the_organisation_says_when(personas, client_for):
    _schedule(personas.organisation, due=timezone.make_aware(datetime(2026, 12, 6)))
    for user, can_cancel in ((personas.owner, True), (personas.member, False), (personas.viewer, False)):
        browser = _browser(client_for, user)
        for url in ("/", reverse("settings_members"), reverse("account_email"), reverse("account_data")):
            text = browser.get(url).content.decode()
            assert "This organisation will be deleted on 6 December 2026." in text, (user.email, url)
            assert (reverse("settings_deletion_cancel") in text) is can_cancel, (user.email, url)
    outsider = _browser(client_for, personas.outsider)
    assert "will be deleted" not in outsider.get("/").content.decode()


def test_the_organisation_works_as_normal_meanwhile(personas, client_for):
    _schedule(personas.organisation, due=timezone.now() + timedelta(days=10))
    browser = _browser(client_for, personas.admin)
    response = browser.post(reverse("settings_organisation"), {"intent": "name", "name": "Acme Bakery Group"})
    assert response.status_code == 302
    personas.organisation.refresh_from_db()
    assert personas.organisation.name == "Acme Bakery Group"


def test_an_owner_cancels(personas, client_for, django_capture_on_commit_callbacks):
    _schedule(personas.organisation, due=timezone.now() + timedelta(days=10))
    browser = _browser(client_for, personas.owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(CANCEL)

    assert response.status_code == 302
    personas.organisation.refresh_from_db()
    assert personas.organisation.deletion_due_at is None
    assert personas.organisation.deletion_requested_at is None
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="organisation.deletion_cancelled")
    assert {address for message in mail.outbox for address in message.to} == {
        "owner@acme.example",
        "admin@acme.example",
    }
    assert "will not be deleted" in mail.outbox[0].subject
    assert "will be deleted" not in browser.get("/").content.decode()
    # Once cancelled, there is nothing left to cancel.
    again = browser.post(CANCEL, follow=True)
    assert "is not due to be deleted" in again.content.decode()


# --- Carrying it out ------------------------------------------------------------------------------------
def organisation_relations() -> list[tuple[type[models.Model], str]]:
    """Every model with a foreign key to Organisation, found from the models (tenant or not)."""
    return [
        (relation.related_model, relation.field.name)
        for relation in Organisation._meta.get_fields(include_hidden=True)
        if relation.is_relation and relation.auto_created and not relation.concrete
    ]


def rows_of(organisation_id: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    counts["accounts.organisation"] = Organisation.objects.filter(pk=organisation_id).count()
    for model, field in organisation_relations():
        counts[model._meta.label_lower] += model._base_manager.filter(**{field: organisation_id}).count()
    return counts


def stored_files() -> dict[str, bytes]:
    root = Path(default_storage.location)
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def files_of(organisation_id: int) -> dict[str, bytes]:
    return {name: content for name, content in stored_files().items() if name.split("/")[1:2] == [str(organisation_id)]}


@pytest.fixture
def two_full_organisations(personas):
    """Acme and Rival, each with rows in every tenant model, stored files of every kind, an API key, a
    partner's access, a logo and a stray file in its folders that no row names."""
    partner = PartnerFactory()
    for organisation in (personas.organisation, personas.other_organisation):
        build_tenant_data(organisation, per_model=2)
        EvidenceRevisionFactory(organisation=organisation)
        ReportRunFactory(organisation=organisation, done=True)
        DataExportFactory(organisation=organisation, ready=True)
        ApiKeyFactory(organisation=organisation)
        PartnerGrantFactory(organisation=organisation, partner=partner)
        organisation.logo.save("logo.png", ContentFile(b"\x89PNG logo"), save=True)
        default_storage.save(f"evidence/{organisation.pk}/left-behind/stray.txt", ContentFile(b"no row names me"))
    return personas


def test_nothing_happens_before_it_is_due(two_full_organisations):
    acme = two_full_organisations.organisation
    due = timezone.now() + timedelta(hours=1)
    _schedule(acme, due=due)
    rows, files = rows_of(acme.pk), files_of(acme.pk)

    assert erasure.organisations_delete_due(now=due - timedelta(seconds=1)) == []

    assert rows_of(acme.pk) == rows
    assert files_of(acme.pk) == files


def test_a_cancelled_deletion_never_happens(two_full_organisations):
    acme = two_full_organisations.organisation
    _schedule(acme, due=timezone.now() + timedelta(days=1))
    erasure.organisation_deletion_cancel(organisation=acme, actor=Actor(user=two_full_organisations.owner))
    assert erasure.organisations_delete_due(now=timezone.now() + timedelta(days=30)) == []
    assert Organisation.objects.filter(pk=acme.pk).exists()


def test_once_due_every_row_and_file_goes_and_nothing_else(two_full_organisations, django_capture_on_commit_callbacks):
    personas = two_full_organisations
    acme, rival = personas.organisation, personas.other_organisation
    people = set(Membership.objects.filter(organisation=acme).values_list("user_id", flat=True))
    _schedule(acme, due=timezone.now() - timedelta(minutes=1))
    rows_before, files_before = rows_of(acme.pk), files_of(acme.pk)
    rival_rows, rival_files = rows_of(rival.pk), files_of(rival.pk)
    # Every kind of thing is there to be deleted: rows of every tenant model, the API key, every kind of file.
    assert all(rows_before[model._meta.label_lower] for model, _field in organisation_relations()), rows_before
    assert {name.split("/")[0] for name in files_before} == {"evidence", "reports", "organisations"}
    assert any("left-behind" in name for name in files_before)

    with django_capture_on_commit_callbacks(execute=True):
        assert delete_due_organisations.delay().get() == 1

    assert sum(rows_of(acme.pk).values()) == 0
    assert files_of(acme.pk) == {}
    assert not any(f"/{acme.pk}/" in name for name in stored_files()), "a file of the organisation is left"
    # Nobody else's rows or files changed.
    assert rows_of(rival.pk) == rival_rows
    assert files_of(rival.pk) == rival_files
    # People are kept; only their membership went.
    assert User.objects.filter(pk__in=people).count() == len(people)
    assert not ApiKey.objects.filter(organisation_id=acme.pk).exists()
    # The owners and admins are told.
    assert any("Acme Bakery Ltd has been deleted" in message.subject for message in mail.outbox)
    recipients = {address for message in mail.outbox for address in message.to}
    assert recipients == {"owner@acme.example", "admin@acme.example"}


def test_a_second_run_finds_nothing_to_do(two_full_organisations):
    acme, rival = two_full_organisations.organisation, two_full_organisations.other_organisation
    _schedule(acme, due=timezone.now() - timedelta(minutes=1))
    first = erasure.organisations_delete_due()
    rival_rows, everything = rows_of(rival.pk), stored_files()

    assert [result.organisation_id for result in first] == [acme.pk]
    assert first[0].files >= 6
    assert erasure.organisation_delete_now(organisation_id=acme.pk) is None
    assert erasure.organisations_delete_due() == []
    assert rows_of(rival.pk) == rival_rows
    assert stored_files() == everything


def test_one_failing_organisation_does_not_stop_the_others(two_full_organisations, monkeypatch):
    acme, rival = two_full_organisations.organisation, two_full_organisations.other_organisation
    past = timezone.now() - timedelta(minutes=1)
    _schedule(acme, due=past - timedelta(days=1))
    _schedule(rival, due=past)
    real = erasure.organisation_files

    def failing_for_acme(organisation_id: int) -> list[str]:
        if organisation_id == acme.pk:
            raise OSError("storage unreachable")
        return real(organisation_id)

    monkeypatch.setattr(erasure, "organisation_files", failing_for_acme)
    done = erasure.organisations_delete_due()

    assert [result.organisation_id for result in done] == [rival.pk]
    assert sum(rows_of(acme.pk).values()) > 0, "rolled back, to be tried again tomorrow"
    assert sum(rows_of(rival.pk).values()) == 0


def test_files_left_in_a_vanished_organisations_folder_are_swept(db):
    old = default_storage.save("evidence/999999/crashed/file.txt", ContentFile(b"left by a crash"))
    fresh = default_storage.save("reports/999998/importing/file.pdf", ContentFile(b"an import in progress"))
    an_hour_and_more = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(default_storage.path(old), (an_hour_and_more, an_hour_and_more))

    assert erasure.vanished_organisation_files_delete() == 1

    assert not default_storage.exists(old)
    assert default_storage.exists(fresh)


def test_storage_folders_are_read_from_the_file_fields():
    assert erasure.storage_folders() == ["evidence", "organisations", "reports"]
