"""The SMB journey's daily nudges: plan tasks due soon or overdue, to their owners; an open assessment nobody
has touched for 30 days, to the organisation's owners and admins.

Each reminder fires once per thing: its dedupe key carries the date that makes it news (the due date, the
last change), so a second run the same day sends nothing, and a task given a new due date is news again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import F, Max
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User
from accounts.notifications import notify
from accounts.roles import Capability
from accounts.webhooks import api_url, organisations_subscribed, webhook_emit
from assessments.models import AssessmentRound, PlanTask, TaskStatus
from config.formatting import long_date

logger = logging.getLogger(__name__)

# A task is "due soon" from a week before its due date.
TASK_DUE_SOON_DAYS = 7
# An open assessment with no change to any answer for this long is "not touched".
STALE_AFTER_DAYS = 30
# Webhooks announce a task that became overdue within this many days (a missed daily run is caught up);
# tasks overdue for longer when an endpoint subscribes are old news, not announced.
OVERDUE_ANNOUNCE_DAYS = 7


@dataclass(frozen=True)
class ReminderReport:
    tasks_due: int
    tasks_overdue: int
    stale_assessments: int
    tasks_announced: int = 0  # task.overdue webhook deliveries recorded


def _when(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


def plan_tasks_remind(*, today: date | None = None) -> tuple[int, int]:
    """Tell each open task's owner when it is due within the week, and again once it is overdue.
    Tasks without an owner, or whose owner has left the organisation, are nobody's to chase."""
    today = today or timezone.localdate()
    tasks = list(
        PlanTask.objects.exclude(status=TaskStatus.DONE)
        .filter(
            due_date__isnull=False,
            due_date__lte=today + timedelta(days=TASK_DUE_SOON_DAYS),
            owner__isnull=False,
            owner__is_active=True,
        )
        .select_related("owner", "organisation")
        .order_by("due_date", "pk")
    )
    members = set(
        Membership.objects.filter(
            organisation_id__in={task.organisation_id for task in tasks}, user_id__in={task.owner_id for task in tasks}
        ).values_list("organisation_id", "user_id")
    )
    due = overdue = 0
    for task in tasks:
        if (task.organisation_id, task.owner_id) not in members:
            continue
        assert task.due_date is not None  # filtered above
        assert task.owner is not None
        url = reverse("task_detail", kwargs={"plantask_id": task.pk})
        if task.due_date < today:
            sent = notify(
                organisation=task.organisation,
                user=task.owner,
                kind="task_overdue",
                title=f"Task overdue: {task.title}",
                body=(
                    f"“{task.title}” was due on {long_date(task.due_date)}. Mark it done, or give it a new due "
                    "date if the plan has changed."
                ),
                url=url,
                dedupe_key=f"task-overdue:{task.pk}:{task.due_date}",
            )
            overdue += sent is not None
        else:
            sent = notify(
                organisation=task.organisation,
                user=task.owner,
                kind="task_due",
                title=f"Task due {_when((task.due_date - today).days)}: {task.title}",
                body=f"“{task.title}” in your implementation plan is due on {long_date(task.due_date)}.",
                url=url,
                dedupe_key=f"task-due:{task.pk}:{task.due_date}",
            )
            due += sent is not None
    return due, overdue


def overdue_tasks_announce(*, today: date | None = None) -> int:
    """Tell webhook subscribers about each open task found overdue, owned or not: once per task and due
    date (a new due date is news again). Only organisations with a subscribed endpoint are looked at."""
    today = today or timezone.localdate()
    organisation_ids = organisations_subscribed("task.overdue")
    if not organisation_ids:
        return 0
    tasks = (
        PlanTask.objects.exclude(status=TaskStatus.DONE)
        .filter(
            organisation_id__in=organisation_ids,
            due_date__lt=today,
            due_date__gte=today - timedelta(days=OVERDUE_ANNOUNCE_DAYS),
        )
        .select_related("organisation")
        .order_by("due_date", "pk")
    )
    recorded = 0
    for task in tasks:
        deliveries = webhook_emit(
            organisation=task.organisation,
            event="task.overdue",
            data={
                "task": {
                    "id": task.pk,
                    "title": task.title,
                    "due_date": task.due_date,
                    "status": task.status,
                    "url": api_url(task.organisation, f"tasks/{task.pk}/"),
                }
            },
            dedupe_key=f"task-overdue:{task.pk}:{task.due_date}",
        )
        recorded += len(deliveries)
    return recorded


def _administrators(organisation_ids: set[int]) -> dict[int, list[User]]:
    found: dict[int, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(organisation_id__in=organisation_ids).select_related("user"):
        if membership.can(Capability.ADMINISTER) and membership.user.is_active:
            found[membership.organisation_id].append(membership.user)
    return found


def stale_assessments_remind(*, now: datetime | None = None) -> int:
    """Tell owners and admins when nobody has changed an answer in the open round for 30 days (counted
    from the round's start when it has no answers yet). Once per quiet spell: an answer starts a new one."""
    now = now or timezone.now()
    rounds = list(
        AssessmentRound.objects.filter(closed_at__isnull=True)
        .annotate(last_touched=Coalesce(Max("answers__updated_at"), F("started_at")))
        .filter(last_touched__lt=now - timedelta(days=STALE_AFTER_DAYS))
        .select_related("organisation")
        .order_by("pk")
    )
    administrators = _administrators({round_.organisation_id for round_ in rounds})
    sent = 0
    for round_ in rounds:
        last_touched = timezone.localtime(round_.last_touched).date()  # type: ignore[attr-defined]
        days = (timezone.localtime(now).date() - last_touched).days
        for user in administrators.get(round_.organisation_id, []):
            notification = notify(
                organisation=round_.organisation,
                user=user,
                kind="assessment_stale",
                title=f"The assessment has not been touched for {days} days",
                body=(
                    f"Nobody has changed an answer in “{round_.name}” since {long_date(last_touched)}. A few "
                    "answers a week keeps your readiness score current."
                ),
                url=reverse("assessment"),
                dedupe_key=f"assessment-stale:{round_.pk}:{last_touched}",
            )
            sent += notification is not None
    return sent


def reminders_send(*, now: datetime | None = None) -> ReminderReport:
    """The daily run for the assessments domain."""
    now = now or timezone.now()
    due, overdue = plan_tasks_remind(today=timezone.localtime(now).date())
    report = ReminderReport(
        tasks_due=due,
        tasks_overdue=overdue,
        stale_assessments=stale_assessments_remind(now=now),
        tasks_announced=overdue_tasks_announce(today=timezone.localtime(now).date()),
    )
    logger.info("Assessment reminders: %s", report)
    return report
