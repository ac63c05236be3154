"""Automated collection through the service: runs against the local fake Google Workspace, stored as
evidence and checks, idempotent on the same day, safe to retry after a worker died, and honest about
failures."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Notification
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from config import task_claims
from config.tests.live_holder import live_worker_holds
from evidence.connectors import google as google_module
from evidence.connectors.base import ControlRef
from evidence.models import (
    CheckResult,
    CollectionRun,
    Connection,
    ConnectionStatus,
    Evidence,
    EvidenceRevision,
    EvidenceStatus,
    RunStatus,
)
from evidence.services import collection
from evidence.tests.fake_google import FakeGoogle, rate_limited, unavailable
from evidence.tokens import decrypt_tokens, encrypt_tokens

TODAY = date(2026, 11, 22)


@pytest.fixture
def google(settings) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(users=120, today=TODAY).start()
    settings.EVIDENCE_CONNECTORS = {
        **settings.EVIDENCE_CONNECTORS,
        "google_workspace": dataclasses.asdict(fake.settings()),
    }
    yield fake
    fake.stop()


@pytest.fixture
def library_controls(db) -> dict[tuple[str, str], int]:
    """The library controls the Google connector maps to, made with the real slugs and refs."""
    refs = {
        value
        for name in dir(google_module)
        if name.endswith("_CONTROLS")
        for value in getattr(google_module, name)
        if isinstance(value, ControlRef)
    }
    frameworks = {slug: FrameworkFactory(slug=slug) for slug in {ref.framework for ref in refs}}
    groups = {slug: ControlGroupFactory(framework=framework) for slug, framework in frameworks.items()}
    return {
        (ref.framework, ref.ref): ControlFactory(group=groups[ref.framework], ref=ref.ref).pk
        for ref in sorted(refs, key=lambda r: (r.framework, r.ref))
    }


@pytest.fixture
def connection(personas, google) -> Connection:
    return Connection.objects.create(
        organisation=personas.organisation,
        provider="google_workspace",
        account_label="example.co.uk",
        encrypted_tokens=encrypt_tokens(google.issue_tokens()),
        connected_by=personas.admin,
    )


def run_today(connection: Connection, personas, django_capture_on_commit_callbacks) -> CollectionRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = collection.collection_request(connection=connection, actor=Actor(user=personas.member), today=TODAY)
    run.refresh_from_db()
    return run


def test_a_run_stores_findings_as_evidence_and_checks(
    personas, google, connection, library_controls, django_capture_on_commit_callbacks
):
    run = run_today(connection, personas, django_capture_on_commit_callbacks)
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), run.error
    items = Evidence.objects.filter(organisation=personas.organisation)
    assert items.count() == run.findings > 5
    enrolment = items.get(source_key="google.2sv_enrolment")
    assert enrolment.source == "google_workspace"
    assert enrolment.status == EvidenceStatus.SUBMITTED
    assert enrolment.owner == personas.admin  # whoever connected the account looks after it
    assert "2-Step Verification" in enrolment.title
    assert enrolment.current_revision.file_kind == "json"
    assert b'"finding": "google.2sv_enrolment"' in enrolment.current_revision.file.read()
    mfa_control = library_controls[("cyber-essentials", "UA.4")]
    assert enrolment.controls.filter(pk=mfa_control).exists()
    checks = CheckResult.objects.filter(run=run)
    assert checks.count() == run.checks_passed + run.checks_failed > 0
    assert checks.get(key="google.2sv_enrolment").evidence == enrolment
    connection.refresh_from_db()
    assert connection.last_success_at is not None
    # Tokens never appear in what was stored.
    tokens = decrypt_tokens(connection.encrypted_tokens)
    assert tokens.access_token not in enrolment.current_revision.file.read().decode()


def test_a_second_run_the_same_day_updates_rather_than_duplicates(
    personas, google, connection, library_controls, django_capture_on_commit_callbacks
):
    first = run_today(connection, personas, django_capture_on_commit_callbacks)
    counts = (Evidence.objects.count(), EvidenceRevision.objects.count(), CheckResult.objects.count())
    google.users[0]["isEnrolledIn2Sv"] = not google.users[0]["isEnrolledIn2Sv"]
    second = run_today(connection, personas, django_capture_on_commit_callbacks)
    assert second.pk == first.pk
    assert second.attempts == 2
    assert (Evidence.objects.count(), EvidenceRevision.objects.count(), CheckResult.objects.count()) == counts
    # The next day adds a revision to each item: history is kept, items are not repeated.
    with django_capture_on_commit_callbacks(execute=True):
        collection.collection_request(connection=connection, actor=None, today=TODAY + timedelta(days=1))
    assert Evidence.objects.count() == counts[0]
    assert EvidenceRevision.objects.count() == 2 * counts[1]


def test_a_run_lost_with_its_worker_is_taken_over_and_stored_once(
    personas, google, connection, library_controls, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(task_claims, "LOCK_WAIT_SECONDS", 0.1)
    run = CollectionRun.objects.create(
        organisation=personas.organisation,
        connection=connection,
        run_on=TODAY,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=30),
        attempts=1,
    )
    # A fresh "running" run a live worker has is left to it: the delivery is told to look again later.
    CollectionRun.objects.filter(pk=run.pk).update(started_at=timezone.now())
    with live_worker_holds("evidence.collectionrun", run.pk), pytest.raises(task_claims.ClaimHeld):
        collection.collection_execute(run_id=run.pk)
    # Once stale (the worker died), the redelivered task claims it and finishes the job once.
    CollectionRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=30))
    finished = collection.collection_execute(run_id=run.pk)
    assert finished is not None
    assert finished.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
    stored = Evidence.objects.count()
    CollectionRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)
    collection.collection_execute(run_id=run.pk)
    assert Evidence.objects.count() == stored


def test_rate_limited_runs_wait_for_a_retry(personas, google, connection, library_controls):
    google.script("/admin/directory/v1/users", rate_limited(3600))
    run = CollectionRun.objects.create(organisation=personas.organisation, connection=connection, run_on=TODAY)
    with pytest.raises(collection.RetryLater) as retry:
        collection.collection_execute(run_id=run.pk)
    assert retry.value.countdown == 3600
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert "slow down" in run.error
    # The retry finds the provider willing again.
    finished = collection.collection_execute(run_id=run.pk)
    assert finished.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)


def test_a_provider_that_keeps_failing_fails_the_run_after_its_attempts(
    personas, google, connection, library_controls, monkeypatch
):
    monkeypatch.setattr("evidence.connectors.base.time.sleep", lambda seconds: None)
    google.script("/admin/directory/v1/users", *[unavailable(503)] * 20)
    run = CollectionRun.objects.create(
        organisation=personas.organisation, connection=connection, run_on=TODAY, attempts=2
    )
    finished = collection.collection_execute(run_id=run.pk, max_attempts=3)
    assert finished.status == RunStatus.FAILED
    assert "kept failing" in finished.error
    assert Evidence.objects.count() == 0


def test_a_withdrawn_grant_asks_for_reconnection(personas, google, connection, library_controls):
    tokens = decrypt_tokens(connection.encrypted_tokens)
    expired = dataclasses.replace(tokens, expires_at=timezone.now() - timedelta(hours=1))
    google.refresh_tokens.clear()  # the grant was withdrawn at Google
    Connection.objects.filter(pk=connection.pk).update(encrypted_tokens=encrypt_tokens(expired))
    run = CollectionRun.objects.create(organisation=personas.organisation, connection=connection, run_on=TODAY)
    finished = collection.collection_execute(run_id=run.pk)
    assert finished.status == RunStatus.FAILED
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.NEEDS_RECONNECT
    assert Notification.objects.filter(user=personas.admin, kind="connection_needs_reconnect").exists()


def test_a_refreshed_token_is_stored_encrypted(personas, google, connection, library_controls):
    tokens = decrypt_tokens(connection.encrypted_tokens)
    google.expire(tokens.access_token)
    run = CollectionRun.objects.create(organisation=personas.organisation, connection=connection, run_on=TODAY)
    finished = collection.collection_execute(run_id=run.pk)
    assert finished.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
    connection.refresh_from_db()
    renewed = decrypt_tokens(connection.encrypted_tokens)
    assert renewed.access_token != tokens.access_token
    assert renewed.access_token not in connection.encrypted_tokens
    assert any("Renewed" in line["message"] for line in finished.log)


def test_disconnect_revokes_and_deletes_tokens(personas, google, connection):
    revoked = collection.connection_disconnect(connection=connection, actor=Actor(user=personas.admin))
    assert revoked
    connection.refresh_from_db()
    assert (connection.status, connection.encrypted_tokens) == (ConnectionStatus.DISCONNECTED, "")
    assert google.seen("/revoke")


def test_only_administrators_disconnect(personas, google, connection):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        collection.connection_disconnect(connection=connection, actor=Actor(user=personas.member))


def test_expired_evidence_from_a_connector_is_renewed_by_the_next_run(
    personas, google, connection, library_controls, django_capture_on_commit_callbacks
):
    run_today(connection, personas, django_capture_on_commit_callbacks)
    Evidence.objects.update(status=EvidenceStatus.EXPIRED)
    with django_capture_on_commit_callbacks(execute=True):
        collection.collection_request(connection=connection, actor=None, today=TODAY + timedelta(days=1))
    assert set(Evidence.objects.values_list("status", flat=True)) == {EvidenceStatus.SUBMITTED}
