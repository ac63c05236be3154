"""The drafting task delivered again (its worker died, or Redis redelivered it): one version per job.

tests/faults/test_worker_killed.py kills a real worker mid-draft; these tests run the task's deliveries
in turn on the states a dead worker leaves behind.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditEvent
from chat.ai import AIResult
from config import task_claims
from config.tests.live_holder import live_worker_holds
from policies import drafting, services
from policies.models import GenerationJob, JobStatus, PolicyVersion
from policies.tasks import draft_policy

pytestmark = pytest.mark.django_db
LOCK = "policies.generationjob"


@pytest.fixture(autouse=True)
def _short_lock_wait(monkeypatch):
    monkeypatch.setattr(task_claims, "LOCK_WAIT_SECONDS", 0.1)


@pytest.fixture
def queued_job(personas, test_library, bakery_profile) -> GenerationJob:
    # No commit in these tests, so the task is not run by starting: each test delivers it itself.
    return services.policy_draft_start(
        organisation=personas.organisation, template_key="house-rules", actor=Actor(personas.member)
    )


def _left_by_a_dead_worker(job: GenerationJob) -> None:
    """What a worker killed mid-draft leaves: the job running as its attempt, part-way through."""
    GenerationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=1, started_at=timezone.now(), progress=40, message="Drafting section 3"
    )
    if connection.vendor != "postgresql":
        # Without PostgreSQL's lock a running job is taken over only once stale: the dead worker's is by now.
        GenerationJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - services.JOB_STALE_AFTER)


def _drafted(job: GenerationJob) -> int:
    return AuditEvent.objects.filter(organisation=job.organisation, action="policy.drafted").count()


def test_the_task_delivered_twice_writes_one_version(queued_job):
    draft_policy(queued_job.pk)
    draft_policy(queued_job.pk)

    job = GenerationJob.objects.get(pk=queued_job.pk)
    version = PolicyVersion.objects.get(policy=job.policy)
    assert (job.status, job.attempts, job.version) == (JobStatus.DONE, 1, version)
    assert _drafted(job) == 1


def test_a_job_whose_worker_died_mid_draft_is_drafted_once_by_the_redelivery(queued_job):
    _left_by_a_dead_worker(queued_job)

    draft_policy(queued_job.pk)
    draft_policy(queued_job.pk)

    job = GenerationJob.objects.get(pk=queued_job.pk)
    assert (job.status, job.attempts, job.progress) == (JobStatus.DONE, 2, 100)
    assert job.version == PolicyVersion.objects.get(policy=job.policy)
    assert _drafted(job) == 1


def test_a_job_a_live_worker_is_drafting_is_left_to_it(queued_job):
    GenerationJob.objects.filter(pk=queued_job.pk).update(
        status=JobStatus.RUNNING, attempts=1, started_at=timezone.now()
    )

    with live_worker_holds(LOCK, queued_job.pk), pytest.raises(task_claims.ClaimHeld) as held:
        services.policy_draft_run(job_id=queued_job.pk)

    assert held.value.retry_in > 0
    job = GenerationJob.objects.get(pk=queued_job.pk)
    assert (job.status, job.attempts, job.version) == (JobStatus.RUNNING, 1, None)
    assert not PolicyVersion.objects.exists()


def test_an_attempt_taken_over_mid_draft_writes_nothing(queued_job, monkeypatch):
    """The first attempt is still drafting when a second delivery takes the job over (its worker was
    thought dead). The first, finishing while the second drafts, writes nothing; the second writes the
    one version."""
    second: list[GenerationJob | None] = []

    def gateway(*, organisation, feature, task):
        if not second:  # the second delivery claims the job while the first is still at work
            second.append(services._claim_job(queued_job.pk, True))
        return AIResult(output=task.offline(), provider="offline", model="offline")

    monkeypatch.setattr(drafting, "ai_generate", gateway)
    services.policy_draft_run(job_id=queued_job.pk)

    job = GenerationJob.objects.get(pk=queued_job.pk)
    assert (job.status, job.attempts, job.version) == (JobStatus.RUNNING, 2, None)
    assert not PolicyVersion.objects.exists()
    taken_over = second[0]
    assert taken_over is not None
    services._draft(taken_over)
    job.refresh_from_db()
    assert (job.status, job.version) == (JobStatus.DONE, PolicyVersion.objects.get(policy=job.policy))
    assert _drafted(job) == 1


def test_a_cancelled_job_is_not_drafted_by_a_redelivery(queued_job, personas):
    _left_by_a_dead_worker(queued_job)
    services.policy_draft_cancel(job=queued_job, actor=Actor(personas.member))

    draft_policy(queued_job.pk)

    job = GenerationJob.objects.get(pk=queued_job.pk)
    assert (job.status, job.version) == (JobStatus.CANCELLED, None)
    assert not PolicyVersion.objects.exists()
