"""Telling a job whose worker died from one a live worker has (config.task_claims)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config import task_claims
from config.tests.live_holder import live_worker_holds

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's; elsewhere the row's age decides"
)


@pytest.fixture(autouse=True)
def _short_lock_wait(monkeypatch):
    monkeypatch.setattr(task_claims, "LOCK_WAIT_SECONDS", 0.2)


@postgresql_only
@pytest.mark.django_db
def test_nobody_working_on_a_job_means_this_delivery_holds_it():
    with task_claims.job_lock("tests.job", 1) as held:
        assert held is True


@postgresql_only
@pytest.mark.django_db
def test_a_live_worker_keeps_its_job_until_its_session_ends():
    with live_worker_holds("tests.job", 2), task_claims.job_lock("tests.job", 2) as held:
        assert held is False
    # Its session closed, as a killed process's does: the lock went with it.
    with task_claims.job_lock("tests.job", 2) as held:
        assert held is True


@postgresql_only
@pytest.mark.django_db
def test_the_lock_is_released_when_the_work_ends_even_by_an_error():
    with pytest.raises(RuntimeError), task_claims.job_lock("tests.job", 3):
        raise RuntimeError("the task failed")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
        )
        assert cursor.fetchone()[0] == 0


@postgresql_only
@pytest.mark.django_db
def test_jobs_of_other_kinds_or_ids_are_not_held():
    with live_worker_holds("tests.job", 4):
        with task_claims.job_lock("tests.job", 5) as held:
            assert held is True
        with task_claims.job_lock("tests.other", 4) as held:
            assert held is True


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL always tells")
@pytest.mark.django_db
def test_without_postgresql_the_lock_cannot_tell():
    with task_claims.job_lock("tests.job", 6) as held:
        assert held is None


def test_takeover_waits(settings):
    settings.CELERY_TASK_TIME_LIMIT = 300
    stale_after = timedelta(minutes=15)
    now = timezone.now()
    assert task_claims.takeover_wait(True, now, stale_after) == 0
    # A live holder: look again once the time limit must have ended its attempt.
    assert task_claims.takeover_wait(False, now, stale_after) == 300
    # Cannot tell: wait until the row is stale.
    assert 890 < task_claims.takeover_wait(None, now - timedelta(seconds=5), stale_after) <= 895
    assert task_claims.takeover_wait(None, now - timedelta(minutes=20), stale_after) == 0
