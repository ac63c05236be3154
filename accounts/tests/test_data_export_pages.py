"""The organisation export page: owners only, asking for an export (audited), its progress, downloading it
(streamed, audited), trying again, the owner told when it is ready, a redelivered task, expiry, and pinned
query counts."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import AuditEvent, DataExport, DataExportStatus, Notification
from accounts.portability import services
from accounts.portability.format import MANIFEST
from accounts.tasks import build_data_export, expire_data_exports
from accounts.tests.factories import DataExportFactory
from config.schedules import PERIODIC_TASKS

pytestmark = pytest.mark.django_db

PAGE = "/settings/data/export/"
HTMX = {"HTTP_HX_REQUEST": "true"}
REQUEST_BASELINE = 3  # session, user, memberships


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


def request_export(browser, django_capture_on_commit_callbacks) -> DataExport:
    """Ask through the page; the task runs when the request's transaction commits (eagerly, in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"{PAGE}new/")
    assert response.status_code == 302
    return DataExport.objects.latest("pk")


def export_files(organisation) -> list[str]:
    folder = f"organisations/{organisation.pk}/exports"
    if not default_storage.exists(folder):
        return []
    folders, _files = default_storage.listdir(folder)
    return [name for sub in folders for name in default_storage.listdir(f"{folder}/{sub}")[1]]


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


# --- Who may use it --------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "member", "viewer", "consultant"])
def test_only_owners_see_the_page_others_get_a_clear_refusal(personas, client_for, role):
    response = client_for(getattr(personas, role)).get(PAGE)

    assert response.status_code == 403
    assert b"Only the organisation&#x27;s owners can export its data" in response.content


def test_the_owner_sees_what_is_included_and_left_out(owner_browser):
    response = owner_browser.get(PAGE)

    assert response.status_code == 200
    assert response.context["section"] == "data_export"
    content = response.content.decode()
    assert "Request export" in content
    assert "Webhook endpoints hold a signing secret" in content
    assert "Connected accounts: encrypted tokens" in content
    assert "Webhook delivery log" in content
    assert f"download it for {settings.DATA_EXPORT_DAYS} days" in content


@pytest.mark.parametrize("role", ["admin", "member", "viewer", "consultant"])
def test_others_cannot_ask_for_download_or_retry_an_export(personas, client_for, role):
    ready = DataExportFactory(
        organisation=personas.organisation, ready=True, expires_at=timezone.now() + timedelta(days=1)
    )
    failed = DataExportFactory(organisation=personas.organisation, status=DataExportStatus.FAILED)
    browser = client_for(getattr(personas, role))

    assert browser.post(f"{PAGE}new/").status_code == 403
    assert browser.get(f"{PAGE}{ready.pk}/download/").status_code == 403
    assert browser.post(f"{PAGE}{failed.pk}/retry/").status_code == 403
    assert DataExport.objects.count() == 2
    failed.refresh_from_db()
    assert failed.status == DataExportStatus.FAILED


def test_another_organisations_export_is_not_found(personas, owner_browser):
    theirs = DataExportFactory(
        organisation=personas.other_organisation, ready=True, expires_at=timezone.now() + timedelta(days=1)
    )
    assert owner_browser.get(f"{PAGE}{theirs.pk}/download/").status_code == 404
    assert owner_browser.post(f"{PAGE}{theirs.pk}/retry/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_wrong_methods_and_malformed_ids(owner_browser):
    assert owner_browser.post(PAGE).status_code == 405
    assert owner_browser.get(f"{PAGE}new/").status_code == 405
    assert owner_browser.get(f"{PAGE}abc/download/").status_code == 404
    assert owner_browser.get(f"{PAGE}999999/download/").status_code == 404


# --- Asking, building, downloading ------------------------------------------------------------------
def test_an_owner_asks_and_gets_a_ready_export_audited_and_is_told(
    personas, owner_browser, django_capture_on_commit_callbacks
):
    before = timezone.now()
    export = request_export(owner_browser, django_capture_on_commit_callbacks)

    assert export.status == DataExportStatus.READY
    assert export.progress == 100
    assert export.requested_by == personas.owner
    data = export.file.read()
    assert export.size == len(data)
    assert export.sha256 == hashlib.sha256(data).hexdigest()
    assert export.file.name.startswith(f"organisations/{personas.organisation.pk}/exports/")
    assert export.file.name.endswith(f"greenlight-export-acme-bakery-{timezone.localdate():%Y-%m-%d}.zip")
    assert before + timedelta(days=settings.DATA_EXPORT_DAYS) <= export.expires_at
    assert MANIFEST in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="data_export.requested").count() == 1
    notification = Notification.objects.get(user=personas.owner, kind="data_export_ready")
    assert notification.url == PAGE
    assert [message.to for message in mail.outbox] == [[personas.owner.email]]


def test_asking_again_while_one_is_on_its_way_returns_it(personas, owner_browser):
    owner_browser.post(f"{PAGE}new/")  # its task waits for a commit that never comes in this test
    owner_browser.post(f"{PAGE}new/")

    assert DataExport.objects.filter(organisation=personas.organisation).count() == 1
    assert DataExport.objects.get().status == DataExportStatus.QUEUED


def test_the_download_is_streamed_as_an_attachment_that_nothing_keeps(
    personas, owner_browser, django_capture_on_commit_callbacks
):
    export = request_export(owner_browser, django_capture_on_commit_callbacks)

    response = owner_browser.get(f"{PAGE}{export.pk}/download/")

    assert response.status_code == 200
    assert response.streaming
    assert body_of(response) == export.file.storage.open(export.file.name).read()
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="greenlight-export-acme-bakery-')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="data_export.downloaded").exists()


def test_an_expired_or_unfinished_export_cannot_be_downloaded(personas, owner_browser):
    expired = DataExportFactory(
        organisation=personas.organisation, ready=True, expires_at=timezone.now() - timedelta(1)
    )
    queued = DataExportFactory(organisation=personas.organisation)

    assert owner_browser.get(f"{PAGE}{expired.pk}/download/").status_code == 404
    assert owner_browser.get(f"{PAGE}{queued.pk}/download/").status_code == 404


def test_a_failed_build_says_so_stores_nothing_and_can_be_tried_again(
    personas, owner_browser, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "build_export", broken)
    export = request_export(owner_browser, django_capture_on_commit_callbacks)
    assert export.status == DataExportStatus.FAILED
    assert export.error == services.FAILED_UNEXPECTEDLY
    assert not export.file
    assert export_files(personas.organisation) == []
    assert b"Try again" in owner_browser.get(PAGE).content

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_browser.post(f"{PAGE}{export.pk}/retry/")
    assert response.status_code == 302
    export.refresh_from_db()
    assert export.status == DataExportStatus.READY
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="data_export.retried").count() == 1


def test_a_ready_export_is_not_tried_again(personas, owner_browser):
    export = DataExportFactory(organisation=personas.organisation, ready=True, expires_at=timezone.now() + timedelta(1))

    owner_browser.post(f"{PAGE}{export.pk}/retry/")

    export.refresh_from_db()
    assert export.status == DataExportStatus.READY
    assert not AuditEvent.objects.filter(action="data_export.retried").exists()


def test_an_export_whose_worker_was_lost_can_be_tried_again(
    personas, owner_browser, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - services.STALE_AFTER - timedelta(minutes=1)
    export = DataExportFactory(
        organisation=personas.organisation, status=DataExportStatus.RUNNING, started_at=long_ago, created_at=long_ago
    )
    assert b"It stopped before it finished" in owner_browser.get(PAGE).content

    with django_capture_on_commit_callbacks(execute=True):
        owner_browser.post(f"{PAGE}{export.pk}/retry/")

    export.refresh_from_db()
    assert export.status == DataExportStatus.READY


# --- The task delivered again -----------------------------------------------------------------------
def test_a_second_delivery_of_a_ready_export_does_nothing(personas, owner_browser, django_capture_on_commit_callbacks):
    export = request_export(owner_browser, django_capture_on_commit_callbacks)
    name, digest = export.file.name, export.sha256

    assert build_data_export(export.pk) == "skipped"

    export.refresh_from_db()
    assert (export.file.name, export.sha256) == (name, digest)
    assert len(export_files(personas.organisation)) == 1
    assert Notification.objects.filter(kind="data_export_ready").count() == 1


def test_a_delivery_takes_over_a_running_export_and_the_one_it_replaced_writes_nothing(personas, monkeypatch):
    """The first worker is overtaken mid-build (as when its message is delivered again after it died): the
    second builds the export; the first stops at its next progress report and leaves no file."""
    export = DataExportFactory(organisation=personas.organisation, requested_by=personas.owner)
    real = services.build_export
    deliveries = []

    def build(organisation, out, *, progress):
        deliveries.append(1)
        if len(deliveries) == 1:
            progress(5, "first delivery at work")
            services.data_export_build(export_id=export.pk)  # the redelivery, start to finish
        return real(organisation, out, progress=progress)

    monkeypatch.setattr(services, "build_export", build)
    assert services.data_export_build(export_id=export.pk) is None  # the first delivery gave way

    export.refresh_from_db()
    assert export.status == DataExportStatus.READY
    assert len(deliveries) == 2
    assert len(export_files(personas.organisation)) == 1
    assert export.file.name.endswith(export_files(personas.organisation)[0])


# --- Expiry --------------------------------------------------------------------------------------------
def test_expired_files_are_deleted_daily_and_the_record_stays(
    personas, owner_browser, django_capture_on_commit_callbacks
):
    export = request_export(owner_browser, django_capture_on_commit_callbacks)
    fresh = request_export(owner_browser, django_capture_on_commit_callbacks)
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    name = export.file.name

    assert expire_data_exports() == 1

    export.refresh_from_db()
    assert export.status == DataExportStatus.EXPIRED
    assert not export.file
    assert not default_storage.exists(name)
    fresh.refresh_from_db()
    assert fresh.status == DataExportStatus.READY
    assert default_storage.exists(fresh.file.name)
    assert ("accounts.expire_data_exports", {"minute": "55", "hour": "3"}) in PERIODIC_TASKS.values()
    assert b"Expired" in owner_browser.get(PAGE).content


# --- Progress on the page ------------------------------------------------------------------------------
def test_the_list_polls_while_an_export_is_on_its_way_and_stops_after(personas, owner_browser):
    export = DataExportFactory(
        organisation=personas.organisation, status=DataExportStatus.RUNNING, progress=40, started_at=timezone.now()
    )
    export.message = "Copying stored files: 4 of 10"
    export.save()

    fragment = owner_browser.get(PAGE, **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="data-exports" hx-get="/settings/data/export/" hx-trigger="every 2s"')
    assert "Building, 40%" in fragment
    assert "Copying stored files: 4 of 10" in fragment

    DataExport.objects.filter(pk=export.pk).update(status=DataExportStatus.FAILED, error="It broke.")
    fragment = owner_browser.get(PAGE, **HTMX).content.decode()
    assert "hx-trigger" not in fragment.split(">", 1)[0]
    assert "It broke." in fragment


# --- Query counts --------------------------------------------------------------------------------------
@pytest.mark.parametrize("exports", [1, 25])
def test_the_page_does_not_grow_with_exports(personas, owner_browser, django_assert_num_queries, exports):
    for _ in range(exports):
        DataExportFactory(organisation=personas.organisation, requested_by=personas.owner)

    # + the exports (with who asked)
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        assert owner_browser.get(PAGE).status_code == 200
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        assert owner_browser.get(PAGE, **HTMX).status_code == 200
