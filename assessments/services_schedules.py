"""Report schedules: creating, changing, pausing and deleting them, each with its django-celery-beat entry
in the same transaction, and running one: build the report, then email it to the recipients.

A run is idempotent per period (a week or a month): the period's report is built once and kept on the
schedule as `last_run`, and each recipient emailed is recorded, so a task delivered again emails nobody
twice. A mail server failure leaves the run and the record of who has it, and the task is retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import Organisation, User
from accounts.notifications import organisation_link
from accounts.roles import Capability
from assessments.models import (
    REPORT_ATTACHMENT_MAX_BYTES,
    ReportKind,
    ReportRun,
    ReportSchedule,
    ReportStatus,
    ScheduleDelivery,
    ScheduleFrequency,
)
from assessments.reports import builder_for
from config.formatting import long_date

logger = logging.getLogger(__name__)

TASK_NAME = "assessments.run_report_schedule"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ReportStillBuilding(Exception):
    """The period's report is being built by another worker: the task tries again later."""


# --- Times ----------------------------------------------------------------------------------------
def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def next_run_after(schedule: ReportSchedule, moment: datetime) -> datetime:
    """The first time strictly after `moment` the schedule fires, on the hour in settings.TIME_ZONE."""
    local = moment.astimezone(_zone())
    day = local.date()
    for _ in range(62):  # two months of days always hold the next weekly or monthly time
        if _fires_on(schedule, day):
            at = datetime(day.year, day.month, day.day, schedule.hour, tzinfo=_zone())
            if at > local:
                return at
        day += timedelta(days=1)
    raise ValueError(f"Schedule {schedule.pk} never fires.")  # unreachable with a valid day


def _fires_on(schedule: ReportSchedule, day: date) -> bool:
    if schedule.frequency == ScheduleFrequency.WEEKLY:
        return day.weekday() == schedule.day
    return day.day == schedule.day


def period_of(schedule: ReportSchedule, moment: datetime) -> str:
    """The week ("2026-W47") or month ("2026-11") a moment falls in, where the schedule's reports are sent."""
    local = moment.astimezone(_zone()).date()
    if schedule.frequency == ScheduleFrequency.WEEKLY:
        year, week, _weekday = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local.year}-{local.month:02d}"


def _ordinal(number: int) -> str:
    suffix = "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def frequency_in_words(schedule: ReportSchedule) -> str:
    at = f"{schedule.hour:02d}:00"
    if schedule.frequency == ScheduleFrequency.WEEKLY:
        return f"Every {WEEKDAYS[schedule.day]} at {at}"
    return f"On the {_ordinal(schedule.day)} of every month at {at}"


def when_in_words(moment: datetime) -> str:
    """21 November 2026 at 08:00, in settings.TIME_ZONE."""
    local = moment.astimezone(_zone())
    return f"{long_date(local.date())} at {local:%H:%M}"


# --- The beat entry -------------------------------------------------------------------------------
def _crontab_fields(schedule: ReportSchedule) -> dict[str, str]:
    weekly = schedule.frequency == ScheduleFrequency.WEEKLY
    return {
        "minute": "0",
        "hour": str(schedule.hour),
        # cron counts weekdays from Sunday (0); Python, and the schedule, from Monday.
        "day_of_week": str((schedule.day + 1) % 7) if weekly else "*",
        "day_of_month": "*" if weekly else str(schedule.day),
        "month_of_year": "*",
    }


def _sync_beat(schedule: ReportSchedule) -> PeriodicTask:
    crontab, _created = CrontabSchedule.objects.get_or_create(timezone=settings.TIME_ZONE, **_crontab_fields(schedule))
    task, _created = PeriodicTask.objects.update_or_create(
        name=schedule.beat_name,
        defaults={
            "task": TASK_NAME,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([schedule.pk]),
            "enabled": not schedule.paused,
        },
    )
    return task


# --- Writing --------------------------------------------------------------------------------------
def _validate_recipients(organisation: Organisation, recipients: Iterable[User]) -> list[User]:
    chosen = list(recipients)
    if not chosen:
        raise ValidationError({"recipients": "Choose at least one person to send the report to."})
    members = set(
        User.objects.filter(pk__in=[user.pk for user in chosen], memberships__organisation=organisation).values_list(
            "pk", flat=True
        )
    )
    outsiders = [user for user in chosen if user.pk not in members]
    if outsiders:
        names = ", ".join(user.display_name for user in outsiders)
        raise ValidationError({"recipients": f"Reports go only to members of the organisation, not to {names}."})
    return chosen


def _save(schedule: ReportSchedule, recipients: list[User]) -> None:
    schedule.next_run_at = None if schedule.paused else next_run_after(schedule, timezone.now())
    schedule.full_clean()
    schedule.save()
    schedule.recipients.set(recipients)
    _sync_beat(schedule)


def schedule_create(
    *,
    organisation: Organisation,
    actor: Actor,
    frequency: str,
    day: int,
    hour: int,
    recipients: Iterable[User],
    delivery: str,
    kind: str = ReportKind.READINESS,
) -> ReportSchedule:
    require_actor(organisation, actor, Capability.EDIT, what="report schedules")
    if builder_for(kind) is None:
        raise ValidationError({"kind": "There is no report of that kind."})
    chosen = _validate_recipients(organisation, recipients)
    schedule = ReportSchedule(
        organisation=organisation,
        kind=kind,
        frequency=frequency,
        day=day,
        hour=hour,
        delivery=delivery,
        created_by=actor.user,
    )
    with transaction.atomic():
        _save(schedule, chosen)
        audit_record(
            organisation=organisation,
            actor=actor,
            action="report_schedule.created",
            summary=f"Scheduled a {schedule.get_kind_display().lower()}: {frequency_in_words(schedule)}",
            target=schedule,
        )
    return schedule


def schedule_update(
    *,
    schedule: ReportSchedule,
    actor: Actor,
    frequency: str,
    day: int,
    hour: int,
    recipients: Iterable[User],
    delivery: str,
) -> ReportSchedule:
    require_actor(schedule.organisation, actor, Capability.EDIT, what="report schedules")
    chosen = _validate_recipients(schedule.organisation, recipients)
    schedule.frequency, schedule.day, schedule.hour, schedule.delivery = frequency, day, hour, delivery
    with transaction.atomic():
        _save(schedule, chosen)
        audit_record(
            organisation=schedule.organisation,
            actor=actor,
            action="report_schedule.updated",
            summary=f"Changed a report schedule: {frequency_in_words(schedule)}",
            target=schedule,
        )
    return schedule


def _set_paused(schedule: ReportSchedule, actor: Actor, *, paused: bool) -> ReportSchedule:
    require_actor(schedule.organisation, actor, Capability.EDIT, what="report schedules")
    schedule.paused = paused
    schedule.next_run_at = None if paused else next_run_after(schedule, timezone.now())
    with transaction.atomic():
        schedule.save(update_fields=["paused", "next_run_at"])
        _sync_beat(schedule)
        audit_record(
            organisation=schedule.organisation,
            actor=actor,
            action="report_schedule.paused" if paused else "report_schedule.resumed",
            summary=f"{'Paused' if paused else 'Resumed'} a report schedule: {frequency_in_words(schedule)}",
            target=schedule,
        )
    return schedule


def schedule_pause(*, schedule: ReportSchedule, actor: Actor) -> ReportSchedule:
    return _set_paused(schedule, actor, paused=True)


def schedule_resume(*, schedule: ReportSchedule, actor: Actor) -> ReportSchedule:
    return _set_paused(schedule, actor, paused=False)


def schedule_delete(*, schedule: ReportSchedule, actor: Actor) -> None:
    """Delete the schedule and its beat entry; the reports it built stay in the list of runs."""
    require_actor(schedule.organisation, actor, Capability.EDIT, what="report schedules")
    with transaction.atomic():
        PeriodicTask.objects.filter(name=schedule.beat_name).delete()
        audit_record(
            organisation=schedule.organisation,
            actor=actor,
            action="report_schedule.deleted",
            summary=f"Deleted a report schedule: {frequency_in_words(schedule)}",
            target=schedule,
        )
        schedule.delete()


# --- Running --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleOutcome:
    run: ReportRun | None
    emailed: int


def schedule_run(*, schedule_id: int) -> ScheduleOutcome:
    """Build this period's report (once) and email it to each recipient still an active member who has
    not had it yet. A paused or deleted schedule does nothing."""
    found = ReportSchedule.objects.select_related("organisation", "created_by").filter(pk=schedule_id).first()
    if found is None or found.paused:
        return ScheduleOutcome(run=None, emailed=0)
    run = _run_for_period(found)
    if run.status != ReportStatus.DONE:
        # A report that cannot be built now is on the Reports page with its error; the next period tries anew.
        logger.warning("Scheduled report %s failed to build (run %s): %s", found.pk, run.pk, run.error)
        return ScheduleOutcome(run=run, emailed=0)
    return ScheduleOutcome(run=run, emailed=_deliver(found, run))


def _run_for_period(schedule: ReportSchedule) -> ReportRun:
    from assessments.services_reports import report_build

    now = timezone.now()
    period = period_of(schedule, now)
    with transaction.atomic():
        # Locked so two deliveries of the task at once agree on one run for the period.
        locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
        run = locked.last_run if locked.sent_period == period else None
        if run is None or run.status == ReportStatus.FAILED:
            run = ReportRun.objects.create(
                organisation_id=schedule.organisation_id,
                kind=schedule.kind,
                parameters={"schedule": schedule.pk},
                requested_by=schedule.created_by,
                message="Waiting to start",
            )
            sent_to = locked.sent_to if locked.sent_period == period else []
            ReportSchedule.objects.filter(pk=schedule.pk).update(last_run=run, sent_period=period, sent_to=sent_to)
        ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=next_run_after(schedule, now))
    if run.status in (ReportStatus.QUEUED, ReportStatus.RUNNING):
        built = report_build(run_id=run.pk)  # synchronously: the email needs the file
        if built is None:
            raise ReportStillBuilding(f"Report run {run.pk} is being built elsewhere.")
        run = built
    return run


def _recipients_due(schedule: ReportSchedule) -> list[User]:
    """Recipients who are still active members of the organisation and have not had this period's report."""
    fresh = ReportSchedule.objects.get(pk=schedule.pk)
    return list(
        fresh.recipients.filter(is_active=True, memberships__organisation_id=schedule.organisation_id)
        .exclude(pk__in=fresh.sent_to)
        .distinct()
        .order_by("pk")
    )


def _deliver(schedule: ReportSchedule, run: ReportRun) -> int:
    attachment = _attachment(schedule, run)
    link = organisation_link(
        organisation_id=schedule.organisation_id,
        path=reverse("report_download", kwargs={"reportrun_id": run.pk}),
    )
    sent = 0
    for user in _recipients_due(schedule):
        try:
            _email(schedule, run, user, link=link, attachment=attachment)
        except OSError:  # smtplib's errors are OSErrors: logged, and the task is retried for the rest
            logger.exception(
                "Emailing scheduled report %s to user %s failed; it will be tried again", schedule.pk, user.pk
            )
            raise
        _mark_sent(schedule, user)
        sent += 1
    return sent


def _mark_sent(schedule: ReportSchedule, user: User) -> None:
    with transaction.atomic():
        locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
        locked.sent_to = sorted({*locked.sent_to, user.pk})
        locked.save(update_fields=["sent_to"])


def _attachment(schedule: ReportSchedule, run: ReportRun) -> tuple[str, bytes, str] | None:
    if schedule.delivery != ScheduleDelivery.ATTACH or run.size > REPORT_ATTACHMENT_MAX_BYTES:
        return None
    builder = builder_for(run.kind)
    name = str(run.file.name)
    try:
        with default_storage.open(name, "rb") as handle:
            body = handle.read()
    except OSError:  # the file cannot be read now: the link still works once it can
        logger.warning("Could not read report run %s to attach it; sending a link", run.pk, exc_info=True)
        return None
    return name.rsplit("/", 1)[-1], body, builder.content_type if builder else "application/octet-stream"


def _email(
    schedule: ReportSchedule, run: ReportRun, user: User, *, link: str, attachment: tuple[str, bytes, str] | None
) -> None:
    context = {
        "user": user,
        "schedule": schedule,
        "organisation": schedule.organisation,
        "report_name": run.get_kind_display(),
        # Mid-sentence: "sent every Monday at 08:00".
        "frequency": (words := frequency_in_words(schedule))[0].lower() + words[1:],
        "made": when_in_words(run.finished_at or timezone.now()),
        "attached": attachment is not None,
        "too_big": schedule.delivery == ScheduleDelivery.ATTACH and attachment is None,
        "link": link,
        "reports_link": organisation_link(organisation_id=schedule.organisation_id, path=reverse("reports")),
    }
    message = EmailMultiAlternatives(
        subject=f"[Greenlight] {run.get_kind_display()} for {schedule.organisation.name}",
        body=render_to_string("email/report_scheduled.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("email/report_scheduled.html", context), "text/html")
    if attachment is not None:
        message.attach(*attachment)
    message.send()
