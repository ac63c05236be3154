"""Bringing back work the broker never got: rows saved as queued whose task was not published (Redis was
down, see config.queueing) or was lost with it (a Redis restarted without persistence forgets its queues).

Every few minutes (config/schedules.py), and whenever a worker that takes the default queue starts, this
sweep publishes again each policy drafting job, report run, collection run and organisation export still queued and
never started `REQUEUE_AFTER` after it was asked for, and each notification email still unsent. Rows older
than `GIVE_UP_AFTER` are left alone: work a day late is no longer what anyone asked for, and the pages
already offer to start it again. Webhook deliveries have their own sweep (accounts.deliver_due_webhooks);
invitation emails keep no "sent" mark, so their page's Resend is the way to send one again.

The tasks take a row only while it is queued, so a job published twice is done once, and nothing here
creates a row. A row is published again at most once per `REPUBLISH_EVERY` (a mark in the cache), so a
worker that is merely busy is not sent a copy of its queue every few minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task, signals

from config.queueing import enqueue

logger = logging.getLogger(__name__)

REQUEUE_AFTER = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(days=1)
REPUBLISH_EVERY = timedelta(minutes=30)
# Per kind and sweep, oldest first: a long outage's backlog goes out over a few sweeps.
BATCH = 200


@dataclass(frozen=True)
class Waiting:
    kind: str
    task: Task  # type: ignore[type-arg]
    ids: list[int]


def _policy_drafting(asked_before: datetime, asked_after: datetime) -> Waiting:
    from django.db.models import Exists, OuterRef

    from policies.models import GenerationJob, JobStatus
    from policies.tasks import draft_policy

    # A newer job for the same policy replaces an older one (a second click after the first was given up).
    newer = GenerationJob.objects.filter(policy=OuterRef("policy"), created_at__gt=OuterRef("created_at"))
    rows = (
        GenerationJob.objects.filter(status=JobStatus.QUEUED, created_at__lte=asked_before, created_at__gte=asked_after)
        .exclude(Exists(newer))
        .order_by("created_at", "pk")
    )
    return Waiting("policy drafting", draft_policy, list(rows.values_list("pk", flat=True)[:BATCH]))


def _report_runs(asked_before: datetime, asked_after: datetime) -> Waiting:
    from assessments.models import ReportRun, ReportStatus
    from assessments.tasks import build_report

    rows = ReportRun.objects.filter(
        status=ReportStatus.QUEUED, created_at__lte=asked_before, created_at__gte=asked_after
    ).order_by("created_at", "pk")
    return Waiting("report", build_report, list(rows.values_list("pk", flat=True)[:BATCH]))


def _collection_runs(asked_before: datetime, asked_after: datetime) -> Waiting:
    from django.db.models import F, Q

    from evidence.models import CollectionRun, RunStatus
    from evidence.tasks import collect_evidence

    # A run started after it was queued is waiting for its own retry, which its worker holds; only one never
    # started since it was (last) queued is waiting for a message that never came.
    rows = (
        CollectionRun.objects.filter(status=RunStatus.QUEUED, queued_at__lte=asked_before, queued_at__gte=asked_after)
        .filter(Q(started_at__isnull=True) | Q(started_at__lt=F("queued_at")))
        .order_by("queued_at", "pk")
    )
    return Waiting("collection", collect_evidence, list(rows.values_list("pk", flat=True)[:BATCH]))


def _notification_emails(asked_before: datetime, asked_after: datetime) -> Waiting:
    from accounts.models import Notification
    from accounts.notification_kinds import Channel
    from accounts.tasks import send_notification_email

    rows = Notification.objects.filter(
        channel=Channel.EMAIL,
        emailed_at__isnull=True,
        user__is_active=True,
        created_at__lte=asked_before,
        created_at__gte=asked_after,
    ).order_by("created_at", "pk")
    return Waiting("notification email", send_notification_email, list(rows.values_list("pk", flat=True)[:BATCH]))


def _data_exports(asked_before: datetime, asked_after: datetime) -> Waiting:
    from accounts.models import DataExport, DataExportStatus
    from accounts.tasks import build_data_export

    rows = DataExport.objects.filter(
        status=DataExportStatus.QUEUED,
        started_at__isnull=True,
        created_at__lte=asked_before,
        created_at__gte=asked_after,
    ).order_by("created_at", "pk")
    return Waiting("data export", build_data_export, list(rows.values_list("pk", flat=True)[:BATCH]))


KINDS: tuple[Callable[[datetime, datetime], Waiting], ...] = (
    _policy_drafting,
    _report_runs,
    _collection_runs,
    _notification_emails,
    _data_exports,
)


def requeue_waiting(*, now: datetime | None = None) -> dict[str, int]:
    """Publish each waiting row's task again; returns how many of each kind were sent. Stops at the first
    publish the broker refuses: the rest wait for the next sweep."""
    from django.core.cache import cache
    from django.utils import timezone

    now = now or timezone.now()
    sent: dict[str, int] = {}
    for kind in KINDS:
        waiting = kind(now - REQUEUE_AFTER, now - GIVE_UP_AFTER)
        sent[waiting.kind] = 0
        for pk in waiting.ids:
            mark = f"requeue:{waiting.task.name}:{pk}"
            if not cache.add(mark, 1, timeout=int(REPUBLISH_EVERY.total_seconds())):
                continue  # published again recently: its worker has it, or will
            if not enqueue(waiting.task, pk):
                cache.delete(mark)
                logger.warning("Stopped sending waiting work again: the broker is unreachable. Sent so far: %s", sent)
                return sent
            sent[waiting.kind] += 1
    if any(sent.values()):
        logger.info("Sent waiting work again: %s", sent)
    return sent


@shared_task(name="greenlight.requeue_waiting_work")
def requeue_waiting_work() -> dict[str, int]:
    return requeue_waiting()


@signals.worker_ready.connect
def _requeue_when_a_worker_starts(sender: Any = None, **kwargs: Any) -> None:
    """A worker that takes the default queue has started, so the broker answers: sweep now rather than at
    the next beat. A worker kept to other queues would not run what the sweep sends, so it does not ask."""
    app = getattr(sender, "app", None)
    if app is None or app.conf.task_default_queue not in app.amqp.queues.consume_from:
        return
    enqueue(requeue_waiting_work)
