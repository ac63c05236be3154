"""The periodic tasks django-celery-beat runs, declared once in code and written to its tables after
every migrate. Times are Europe/London. A schedule disabled or retimed in the admin keeps that change:
only missing schedules are created."""

from __future__ import annotations

from typing import Any

# name -> (task, crontab fields)
PERIODIC_TASKS: dict[str, tuple[str, dict[str, str]]] = {
    "Collect evidence from connected accounts": ("evidence.collect_all", {"minute": "10", "hour": "3"}),
    "Clean up orphaned evidence files": ("evidence.cleanup_orphans", {"minute": "40", "hour": "3"}),
    "Expire evidence and remind owners": ("evidence.expire_and_remind", {"minute": "0", "hour": "7"}),
    "Remind owners of plan tasks and idle assessments": ("assessments.send_reminders", {"minute": "10", "hour": "7"}),
    "Remind owners of policy reviews": ("policies.send_reminders", {"minute": "20", "hour": "7"}),
    # After the morning's reminders, so those chosen for the digest arrive the same day.
    "Send the daily notification digest": ("accounts.send_digests", {"minute": "0", "hour": "8"}),
    # Webhook retries that no worker scheduled (no broker, or a lost worker) go out from here.
    "Send webhook deliveries that are due": ("accounts.deliver_due_webhooks", {"minute": "*/5"}),
    # Jobs saved as queued whose task the broker never got (Redis was down, or restarted empty) go out again.
    "Send waiting background work again": ("greenlight.requeue_waiting_work", {"minute": "*/2"}),
    # Idempotency keys are honoured for a day; older records only take up space.
    "Forget day-old API idempotency keys": ("accounts.prune_idempotency_records", {"minute": "50", "hour": "3"}),
    # An organisation export is downloadable for DATA_EXPORT_DAYS; then its file is deleted.
    "Delete expired organisation exports": ("accounts.expire_data_exports", {"minute": "55", "hour": "3"}),
    # Organisations whose grace period after an owner asked for their deletion is over: rows and files.
    "Delete organisations due for deletion": ("accounts.delete_due_organisations", {"minute": "30", "hour": "4"}),
    # Each organisation's retention settings (accounts.retention); after the deletions above, before the day.
    "Delete records past their retention": ("accounts.enforce_retention", {"minute": "45", "hour": "4"}),
}


def ensure_periodic_tasks(**_: Any) -> None:
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    for name, (task, fields) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        schedule, _created = CrontabSchedule.objects.get_or_create(
            timezone=settings.TIME_ZONE,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            **fields,
        )
        PeriodicTask.objects.create(name=name, task=task, crontab=schedule)
