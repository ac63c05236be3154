"""The report task delivered again (its worker died, or Redis redelivered it): one stored file per run,
recorded by the run, and nothing a dead attempt stored left behind.

tests/faults/test_worker_killed.py kills a real worker after the file is stored and before the run is
marked done; these tests run the task's deliveries in turn on the states a dead worker leaves behind.
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from assessments import services_reports
from assessments.models import REPORT_STALE_AFTER, ReportRun, ReportStatus, report_build_folder
from assessments.reports import BUILDERS, Builder
from assessments.tasks import build_report
from assessments.tests.factories import ReportRunFactory
from config import task_claims
from config.tests.live_holder import live_worker_holds
from evidence.services.storage import files_under

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_lock_wait(monkeypatch):
    monkeypatch.setattr(task_claims, "LOCK_WAIT_SECONDS", 0.1)


@pytest.fixture
def run(personas) -> ReportRun:
    return ReportRunFactory(organisation=personas.organisation, requested_by=personas.owner)


def _report_files(run: ReportRun) -> list[str]:
    return files_under(f"reports/{run.organisation_id}")


def _assert_built_once(run: ReportRun, attempts: int) -> None:
    run.refresh_from_db()
    assert (run.status, run.attempts, run.progress) == (ReportStatus.DONE, attempts, 100)
    # The one stored file is the run's, and is what the run says it is.
    assert _report_files(run) == [run.file.name]
    with default_storage.open(run.file.name) as stored:
        content = stored.read()
    assert content.startswith(b"%PDF")
    assert (len(content), hashlib.sha256(content).hexdigest()) == (run.size, run.sha256)


def test_the_task_delivered_twice_stores_one_file(run):
    build_report(run.pk)
    build_report(run.pk)

    _assert_built_once(run, attempts=1)


def test_a_run_whose_worker_died_after_storing_its_file_is_built_once(run):
    """Killed after the file was stored and before the run recorded it: the run is still running, as
    the dead attempt's, and its file is in the run's folder, unrecorded. The redelivery deletes it."""
    ReportRun.objects.filter(pk=run.pk).update(status=ReportStatus.RUNNING, attempts=1, started_at=timezone.now())
    orphan = default_storage.save(
        f"{report_build_folder(run)}/1/readiness-report.pdf", ContentFile(b"%PDF-1.7 the dead attempt's file")
    )
    if connection.vendor != "postgresql":
        # Without PostgreSQL's lock a running run is taken over only once stale: the dead worker's is by now.
        ReportRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - REPORT_STALE_AFTER)

    build_report(run.pk)
    build_report(run.pk)

    _assert_built_once(run, attempts=2)
    assert not default_storage.exists(orphan)


def test_a_run_a_live_worker_is_building_is_left_to_it(run):
    ReportRun.objects.filter(pk=run.pk).update(status=ReportStatus.RUNNING, attempts=1, started_at=timezone.now())

    with live_worker_holds("assessments.reportrun", run.pk), pytest.raises(task_claims.ClaimHeld):
        services_reports.report_build(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.attempts, run.file.name) == (ReportStatus.RUNNING, 1, "")
    assert _report_files(run) == []


def test_an_attempt_taken_over_while_building_keeps_nothing_and_fails_nothing(run, monkeypatch):
    """The first attempt is still building when a second delivery takes the run over (its worker was
    thought dead). The first, finishing while the second builds, neither records its file nor marks the
    run done or failed, and deletes its file; the second's file is the run's."""
    build = BUILDERS["readiness"].build
    second: list[ReportRun | None] = []

    def builder_taken_over_midway(organisation, parameters, requested_by, today, out, progress):
        build(organisation, parameters, requested_by, today, out, progress)
        if not second:  # the second delivery claims the run while the first is still at work
            second.append(services_reports._claim(run.pk, True))

    monkeypatch.setattr(
        services_reports,
        "builder_for",
        lambda kind: Builder("readiness", "pdf", "application/pdf", builder_taken_over_midway),
    )
    services_reports.report_build(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.attempts, run.file.name) == (ReportStatus.RUNNING, 2, "")
    assert _report_files(run) == []
    taken_over = second[0]
    assert taken_over is not None
    services_reports._build(taken_over)
    _assert_built_once(run, attempts=2)
