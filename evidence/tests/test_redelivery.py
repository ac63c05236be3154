"""The collection task delivered again (its worker died, or Redis redelivered it): one set of evidence,
and no file left behind that no revision records.

tests/faults/test_worker_killed.py kills a real worker mid-run; these tests run the task's deliveries in
turn on the states a dead worker leaves behind, against the local fake Google Workspace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory
from config import task_claims
from evidence.connectors.base import ControlRef, Finding, RunLog
from evidence.models import CheckResult, CollectionRun, Connection, Evidence, EvidenceRevision, RunStatus
from evidence.services import collection, storage
from evidence.tasks import collect_evidence
from evidence.tests.fake_google import FakeGoogle
from evidence.tokens import encrypt_tokens

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 22)


@pytest.fixture(autouse=True)
def _short_lock_wait(monkeypatch):
    monkeypatch.setattr(task_claims, "LOCK_WAIT_SECONDS", 0.1)


@pytest.fixture
def google(settings) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(users=60, today=TODAY).start()
    settings.EVIDENCE_CONNECTORS = {
        **settings.EVIDENCE_CONNECTORS,
        "google_workspace": dataclasses.asdict(fake.settings()),
    }
    yield fake
    fake.stop()


@pytest.fixture
def connection(personas, google) -> Connection:
    framework = FrameworkFactory(slug="cyber-essentials")
    ControlFactory(group=ControlGroupFactory(framework=framework), ref="UA.4")
    return Connection.objects.create(
        organisation=personas.organisation,
        provider="google_workspace",
        account_label="example.co.uk",
        encrypted_tokens=encrypt_tokens(google.issue_tokens()),
        connected_by=personas.admin,
    )


@pytest.fixture
def run(connection) -> CollectionRun:
    return CollectionRun.objects.create(
        organisation=connection.organisation, connection=connection, run_on=TODAY, queued_at=timezone.now()
    )


def _counts() -> tuple[int, int, int]:
    return Evidence.objects.count(), EvidenceRevision.objects.count(), CheckResult.objects.count()


def _stored_files(organisation_id: int) -> set[str]:
    return set(storage.files_under(f"{storage.PREFIX}/{organisation_id}"))


def _recorded_files() -> set[str]:
    return set(EvidenceRevision.objects.values_list("file", flat=True))


def test_the_task_delivered_twice_stores_one_set_of_evidence(run):
    collect_evidence(run.pk)
    once = _counts()
    collect_evidence(run.pk)

    run.refresh_from_db()
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), run.error
    assert run.attempts == 1
    assert _counts() == once == (run.findings, run.findings, run.checks_passed + run.checks_failed)
    assert _stored_files(run.organisation_id) == _recorded_files()


def test_a_run_whose_worker_died_while_storing_is_finished_once(run):
    """A worker killed part-way through storing leaves the run running, the first findings committed,
    and files stored for findings whose rows were never committed. The redelivery takes the run over,
    stores each finding once and deletes every file the dead attempt left unrecorded."""
    collect_evidence(run.pk)
    run.refresh_from_db()
    clean = _counts()
    # Rebuild the dead attempt's state from that clean run: its later findings' rows never committed
    # (their files stay, unrecorded), and the run never finished.
    later = list(Evidence.objects.order_by("pk").values_list("pk", flat=True))[2:]
    CheckResult.objects.filter(evidence_id__in=later).delete()
    Evidence.objects.filter(pk__in=later).delete()
    CollectionRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None, findings=0)
    if db_connection.vendor != "postgresql":
        # Without PostgreSQL's lock a running run is taken over only once stale: the dead worker's is by now.
        CollectionRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - collection.RUN_STALE_AFTER)
    left_behind = _stored_files(run.organisation_id)
    assert len(left_behind) == clean[1]
    assert left_behind - _recorded_files()

    collect_evidence(run.pk)

    run.refresh_from_db()
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), run.error
    assert run.attempts == 2
    assert _counts() == clean
    assert Evidence.objects.values("source_key").distinct().count() == clean[0]
    # Exactly the revisions' files: the first attempt's are all gone, replaced or never recorded.
    assert _stored_files(run.organisation_id) == _recorded_files()
    assert not left_behind & _recorded_files()


def test_a_run_a_live_worker_has_is_left_to_it(run):
    from config.tests.live_holder import live_worker_holds

    CollectionRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempts=1, started_at=timezone.now())

    with live_worker_holds("evidence.collectionrun", run.pk), pytest.raises(task_claims.ClaimHeld):
        collection.collection_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.RUNNING, 1)
    assert _counts() == (0, 0, 0)


def test_an_attempt_taken_over_while_storing_writes_nothing(run, connection):
    CollectionRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempts=1, started_at=timezone.now())
    first_attempt = CollectionRun.objects.get(pk=run.pk)
    CollectionRun.objects.filter(pk=run.pk).update(attempts=2)  # a later delivery took the run over
    finding = Finding(
        key="google.2sv_enrolment",
        title="2-Step Verification enrolment",
        summary="38 of 40 users are enrolled.",
        evidence_type="configuration",
        controls=(ControlRef("cyber-essentials", "UA.4"),),
        passed=False,
    )

    with pytest.raises(collection.Superseded):
        collection.store_findings(run=first_attempt, connection=connection, findings=[finding], log=RunLog())

    assert _counts() == (0, 0, 0)
    assert not _stored_files(run.organisation_id)
