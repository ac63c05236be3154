"""Background work for the SMB journey. Tasks take ids, load fresh rows and call a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.models import Organisation


@shared_task(name="assessments.take_readiness_snapshot", autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def take_readiness_snapshot(organisation_id: int) -> int:
    from assessments.services import snapshot_take

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:  # deleted before the snapshot was due
        return 0
    return len(snapshot_take(organisation=organisation))


@shared_task(name="assessments.send_reminders")
def send_reminders() -> None:
    from assessments.reminders import reminders_send

    reminders_send()


@shared_task(name="assessments.build_report", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def build_report(self: Any, run_id: int) -> None:
    # acks_late: a worker killed mid-build leaves the message to be delivered again; the run's claim lets
    # that delivery build it afresh, never twice at the same time. A run a live worker still has is looked
    # at again later, in case that worker dies too.
    from assessments.services_reports import report_build
    from config.task_claims import ClaimHeld

    try:
        report_build(run_id=run_id)
    except ClaimHeld as held:
        raise self.retry(countdown=held.retry_in) from None


def _schedule_retry_errors() -> tuple[type[Exception], ...]:
    from assessments.services_schedules import ReportStillBuilding
    from config.task_claims import ClaimHeld

    # ClaimHeld: the period's report is being built by another live worker.
    return (OSError, ReportStillBuilding, ClaimHeld)


@shared_task(
    name="assessments.run_report_schedule",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=_schedule_retry_errors(),
    retry_backoff=60,
    retry_backoff_max=900,
    max_retries=6,
)
def run_report_schedule(schedule_id: int) -> int:
    # Fired by the schedule's own beat entry. A mail server failure (OSError) or a report still being
    # built by another worker is retried; the period's run and who already has it are kept, so a retry
    # or a redelivery emails nobody twice.
    from assessments.services_schedules import schedule_run

    return schedule_run(schedule_id=schedule_id).emailed
