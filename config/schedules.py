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
    # Idempotency keys are honoured for a day; older records only take up space.
    "Forget day-old API idempotency keys": ("accounts.prune_idempotency_records", {"minute": "50", "hour": "3"}),
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
