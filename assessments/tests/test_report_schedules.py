"""Report schedules: their django-celery-beat entries, the task that builds and emails the report (read back
with pypdf), who may change them, the pages, and the Reports page's queries."""

from __future__ import annotations

import io
import json
import smtplib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.html import escape
from django_celery_beat.models import PeriodicTask
from pypdf import PdfReader

from accounts.audit import Actor
from accounts.models import AuditEvent, Membership
from assessments import services_schedules
from assessments.models import ReportRun, ReportSchedule, ReportStatus, ScheduleDelivery, ScheduleFrequency
from assessments.services_schedules import (
    frequency_in_words,
    next_run_after,
    period_of,
    schedule_create,
    schedule_delete,
    schedule_pause,
    schedule_resume,
    schedule_run,
    schedule_update,
    when_in_words,
)
from assessments.tasks import run_report_schedule
from assessments.tests.factories import ReportRunFactory, ReportScheduleFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
REQUEST_BASELINE = 3  # session, user, memberships (accounts/tests/test_queries.py)


def create(personas, *, actor=None, recipients=None, **overrides) -> ReportSchedule:
    arguments = {
        "frequency": ScheduleFrequency.WEEKLY,
        "day": 0,
        "hour": 8,
        "delivery": ScheduleDelivery.ATTACH,
        "recipients": recipients if recipients is not None else [personas.owner, personas.member],
        **overrides,
    }
    return schedule_create(organisation=personas.organisation, actor=Actor(user=actor or personas.owner), **arguments)


def beat_entry(schedule: ReportSchedule) -> PeriodicTask:
    return PeriodicTask.objects.select_related("crontab").get(name=schedule.beat_name)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- Times ----------------------------------------------------------------------------------------
def test_next_run_is_the_next_chosen_day_and_hour_in_uk_time():
    weekly = ReportSchedule(frequency=ScheduleFrequency.WEEKLY, day=0, hour=8)  # Mondays
    monthly = ReportSchedule(frequency=ScheduleFrequency.MONTHLY, day=21, hour=8)
    thursday = datetime(2026, 11, 19, 12, 0, tzinfo=LONDON)

    assert next_run_after(weekly, thursday) == datetime(2026, 11, 23, 8, tzinfo=LONDON)
    assert next_run_after(monthly, thursday) == datetime(2026, 11, 21, 8, tzinfo=LONDON)
    # Exactly at the hour it fires: the next one is a period later.
    assert next_run_after(monthly, datetime(2026, 11, 21, 8, tzinfo=LONDON)) == datetime(2026, 12, 21, 8, tzinfo=LONDON)
    # In summer, 08:00 in London is 07:00 UTC.
    summer = next_run_after(weekly, datetime(2026, 7, 1, tzinfo=LONDON))
    assert summer.astimezone(ZoneInfo("UTC")).hour == 7


def test_periods_and_words():
    weekly = ReportSchedule(frequency=ScheduleFrequency.WEEKLY, day=2, hour=7)
    monthly = ReportSchedule(frequency=ScheduleFrequency.MONTHLY, day=22, hour=18)
    moment = datetime(2026, 11, 19, 12, tzinfo=LONDON)

    assert period_of(weekly, moment) == "2026-W47"
    assert period_of(monthly, moment) == "2026-11"
    assert frequency_in_words(weekly) == "Every Wednesday at 07:00"
    assert frequency_in_words(monthly) == "On the 22nd of every month at 18:00"
    assert when_in_words(datetime(2026, 11, 21, 8, tzinfo=LONDON)) == "21 November 2026 at 08:00"


# --- The beat entry -------------------------------------------------------------------------------
def test_creating_a_weekly_schedule_creates_its_beat_entry(personas):
    schedule = create(personas, day=0, hour=8)

    entry = beat_entry(schedule)
    assert entry.task == "assessments.run_report_schedule"
    assert json.loads(entry.args) == [schedule.pk]
    assert entry.enabled
    crontab = entry.crontab
    # cron counts Sunday as 0, so Monday is 1.
    assert (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == (
        "0",
        "8",
        "1",
        "*",
        "*",
    )
    assert str(crontab.timezone) == settings.TIME_ZONE
    assert schedule.created_by == personas.owner
    assert set(schedule.recipients.all()) == {personas.owner, personas.member}
    assert schedule.next_run_at is not None
    assert schedule.next_run_at.astimezone(LONDON).weekday() == 0
    assert schedule.next_run_at.astimezone(LONDON).hour == 8
    assert AuditEvent.objects.filter(action="report_schedule.created", object_id=str(schedule.pk)).exists()


def test_a_monthly_schedule_fires_on_its_day_of_the_month_and_sunday_is_cron_zero(personas):
    monthly = create(personas, frequency=ScheduleFrequency.MONTHLY, day=15, hour=6)
    sundays = create(personas, day=6, hour=23)

    crontab = beat_entry(monthly).crontab
    assert (crontab.hour, crontab.day_of_week, crontab.day_of_month) == ("6", "*", "15")
    assert beat_entry(sundays).crontab.day_of_week == "0"


def test_changing_a_schedule_retimes_its_beat_entry(personas):
    schedule = create(personas)

    schedule_update(
        schedule=schedule,
        actor=Actor(user=personas.member),
        frequency=ScheduleFrequency.MONTHLY,
        day=3,
        hour=17,
        recipients=[personas.viewer],
        delivery=ScheduleDelivery.LINK,
    )

    crontab = beat_entry(schedule).crontab
    assert (crontab.hour, crontab.day_of_week, crontab.day_of_month) == ("17", "*", "3")
    assert PeriodicTask.objects.filter(task="assessments.run_report_schedule").count() == 1
    schedule.refresh_from_db()
    assert list(schedule.recipients.all()) == [personas.viewer]
    assert schedule.delivery == ScheduleDelivery.LINK


def test_pausing_disables_the_beat_entry_and_resuming_enables_it(personas):
    schedule = create(personas)

    schedule_pause(schedule=schedule, actor=Actor(user=personas.owner))
    schedule.refresh_from_db()
    assert schedule.paused
    assert schedule.next_run_at is None
    assert not beat_entry(schedule).enabled

    schedule_resume(schedule=schedule, actor=Actor(user=personas.owner))
    schedule.refresh_from_db()
    assert not schedule.paused
    assert schedule.next_run_at is not None
    assert beat_entry(schedule).enabled


def test_deleting_a_schedule_removes_its_beat_entry_and_keeps_its_reports(personas):
    schedule = create(personas)
    name = schedule.beat_name
    run = ReportRunFactory(organisation=personas.organisation, done=True)
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_run=run)

    schedule_delete(schedule=schedule, actor=Actor(user=personas.owner))

    assert not ReportSchedule.objects.exists()
    assert not PeriodicTask.objects.filter(name=name).exists()
    assert ReportRun.objects.filter(pk=run.pk).exists()


# --- Validation and roles -------------------------------------------------------------------------
def test_recipients_who_are_not_members_are_refused(personas):
    with pytest.raises(ValidationError) as refused:
        create(personas, recipients=[personas.owner, personas.outsider])

    assert "only to members" in refused.value.message_dict["recipients"][0]
    assert not ReportSchedule.objects.exists()
    assert not PeriodicTask.objects.filter(task="assessments.run_report_schedule").exists()


def test_a_schedule_needs_a_recipient_and_a_valid_day(personas):
    with pytest.raises(ValidationError) as no_one:
        create(personas, recipients=[])
    assert "recipients" in no_one.value.message_dict
    with pytest.raises(ValidationError) as bad_day:
        create(personas, frequency=ScheduleFrequency.MONTHLY, day=31)
    assert bad_day.value.message_dict["day"] == ["Choose a day of the month from 1 to 28."]
    assert not PeriodicTask.objects.filter(task="assessments.run_report_schedule").exists()


def test_viewer_cannot_create_or_change_schedules(personas):
    with pytest.raises(PermissionDenied):
        create(personas, actor=personas.viewer)
    schedule = create(personas)
    with pytest.raises(PermissionDenied):
        schedule_pause(schedule=schedule, actor=Actor(user=personas.viewer))
    with pytest.raises(PermissionDenied):
        schedule_delete(schedule=schedule, actor=Actor(user=personas.viewer))
    assert beat_entry(schedule).enabled


# --- Running --------------------------------------------------------------------------------------
def test_the_task_builds_the_report_and_emails_it_attached_to_each_recipient(personas):
    schedule = create(personas, recipients=[personas.owner, personas.member], actor=personas.admin)

    assert run_report_schedule.delay(schedule.pk).get() == 2

    run = ReportRun.objects.get()
    assert run.status == ReportStatus.DONE, run.error
    assert run.requested_by == personas.admin
    assert run.parameters == {"schedule": schedule.pk}
    schedule.refresh_from_db()
    assert schedule.last_run == run
    assert sorted(message.to[0] for message in mail.outbox) == ["member@acme.example", "owner@acme.example"]
    for message in mail.outbox:
        assert message.subject == "[Greenlight] Readiness report for Acme Bakery Ltd"
        [(filename, body, content_type)] = message.attachments
        assert filename.endswith(".pdf")
        assert content_type == "application/pdf"
        text = pdf_text(body)
        assert "Acme Bakery Ltd" in text
        assert "Readiness report" in text
        assert "The report is attached as a PDF." in message.body
        html, html_type = message.alternatives[0]
        assert html_type == "text/html"
        assert "Acme Bakery Ltd" in html


def test_link_delivery_sends_a_link_behind_login_and_no_attachment(personas):
    schedule = create(personas, recipients=[personas.viewer], delivery=ScheduleDelivery.LINK)

    run_report_schedule.delay(schedule.pk)

    run = ReportRun.objects.get()
    [message] = mail.outbox
    assert message.attachments == []
    # Through organisation_open, so the link works whichever organisation the reader has open.
    link = settings.SITE_URL + reverse(
        "organisation_open",
        kwargs={"organisation_id": personas.organisation.pk},
        query={"next": reverse("report_download", kwargs={"reportrun_id": run.pk})},
    )
    assert link in message.body
    assert link in message.alternatives[0][0]
    assert "asked to sign in" in message.body


def test_a_report_over_the_size_cap_goes_as_a_link(personas, monkeypatch):
    monkeypatch.setattr(services_schedules, "REPORT_ATTACHMENT_MAX_BYTES", 100)
    schedule = create(personas, recipients=[personas.owner])

    run_report_schedule.delay(schedule.pk)

    [message] = mail.outbox
    assert message.attachments == []
    assert "too large to attach" in message.body
    path = reverse("report_download", kwargs={"reportrun_id": ReportRun.objects.get().pk})
    assert reverse("organisation_open", kwargs={"organisation_id": personas.organisation.pk}, query={"next": path}) in (
        message.body
    )


def test_running_again_in_the_same_period_sends_nothing_twice(personas):
    schedule = create(personas)
    run_report_schedule.delay(schedule.pk)
    assert len(mail.outbox) == 2

    assert run_report_schedule.delay(schedule.pk).get() == 0

    assert len(mail.outbox) == 2
    assert ReportRun.objects.count() == 1


def test_the_next_period_builds_and_sends_a_new_report(personas):
    schedule = create(personas, recipients=[personas.owner])
    run_report_schedule.delay(schedule.pk)
    ReportSchedule.objects.filter(pk=schedule.pk).update(sent_period="2000-W01")

    run_report_schedule.delay(schedule.pk)

    assert len(mail.outbox) == 2
    assert ReportRun.objects.count() == 2


def test_recipients_who_left_or_were_deactivated_are_not_emailed(personas):
    schedule = create(personas, recipients=[personas.owner, personas.member, personas.viewer])
    Membership.objects.filter(user=personas.member).delete()
    personas.viewer.is_active = False
    personas.viewer.save()

    run_report_schedule.delay(schedule.pk)

    assert [message.to for message in mail.outbox] == [["owner@acme.example"]]


def test_a_paused_or_deleted_schedule_does_nothing(personas):
    paused = ReportScheduleFactory(organisation=personas.organisation, paused=True, recipients=[personas.owner])

    assert run_report_schedule.delay(paused.pk).get() == 0
    assert run_report_schedule.delay(paused.pk + 1000).get() == 0

    assert mail.outbox == []
    assert not ReportRun.objects.exists()


def test_a_mail_server_failure_keeps_the_run_and_a_retry_emails_only_who_is_left(personas, monkeypatch, caplog):
    schedule = create(personas, recipients=[personas.owner, personas.member])
    real_send = EmailMultiAlternatives.send
    failures = {"member@acme.example": 1}

    def flaky_send(message, fail_silently=False):
        if failures.get(message.to[0]):
            failures[message.to[0]] -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(message, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)
    with caplog.at_level("ERROR", logger="assessments.services_schedules"), pytest.raises(OSError):
        schedule_run(schedule_id=schedule.pk)

    assert [message.to for message in mail.outbox] == [["owner@acme.example"]]
    assert "will be tried again" in caplog.text
    run = ReportRun.objects.get()
    assert run.status == ReportStatus.DONE

    outcome = schedule_run(schedule_id=schedule.pk)  # what Celery's retry does

    assert outcome.emailed == 1
    assert outcome.run == run
    assert sorted(message.to[0] for message in mail.outbox) == ["member@acme.example", "owner@acme.example"]
    assert ReportRun.objects.count() == 1


def test_the_task_asks_celery_to_retry_after_a_mail_server_failure(personas, monkeypatch):
    schedule = create(personas, recipients=[personas.owner])
    real_send = EmailMultiAlternatives.send
    attempts = []

    def flaky_send(message, fail_silently=False):
        attempts.append(message.to[0])
        if len(attempts) == 1:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(message, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)
    with pytest.raises(Retry):  # eager tasks raise the retry Celery would schedule
        run_report_schedule.delay(schedule.pk)
    assert mail.outbox == []

    assert run_report_schedule.delay(schedule.pk).get() == 1  # the retry

    assert attempts == ["owner@acme.example", "owner@acme.example"]
    assert len(mail.outbox) == 1
    assert ReportRun.objects.count() == 1


# --- Pages ----------------------------------------------------------------------------------------
def form_data(personas, **overrides):
    return {
        "frequency": "monthly",
        "weekday": "0",
        "day_of_month": "21",
        "hour": "8",
        "recipients": [str(personas.owner.pk), str(personas.viewer.pk)],
        "delivery": "link",
        **overrides,
    }


def test_member_schedules_a_report_from_the_form(personas, client_for):
    browser = client_for(personas.member)
    page = browser.get(reverse("report_schedule_create"))
    assert page.status_code == 200
    assert "Schedule a report" in page.content.decode()

    response = browser.post(reverse("report_schedule_create"), form_data(personas))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("reports"))
    schedule = ReportSchedule.objects.get()
    assert (schedule.frequency, schedule.day, schedule.hour, schedule.delivery) == ("monthly", 21, 8, "link")
    assert set(schedule.recipients.all()) == {personas.owner, personas.viewer}
    assert beat_entry(schedule).crontab.day_of_month == "21"


def test_the_form_shows_why_it_was_refused(personas, client_for):
    browser = client_for(personas.owner)

    response = browser.post(
        reverse("report_schedule_create"), form_data(personas, recipients=[str(personas.outsider.pk)])
    )

    assert response.status_code == 400
    assert "Reports go only to members of your organisation." in response.content.decode()
    response = browser.post(reverse("report_schedule_create"), form_data(personas, recipients=[]))
    assert "Choose at least one person to send the report to." in response.content.decode()
    assert not ReportSchedule.objects.exists()


def test_editing_pausing_resuming_and_deleting_from_the_pages(personas, client_for):
    schedule = create(personas)
    browser = client_for(personas.consultant)
    edit_url = reverse("report_schedule_update", kwargs={"reportschedule_id": schedule.pk})

    page = browser.get(edit_url).content.decode()
    assert "Change a scheduled report" in page
    assert browser.post(edit_url, form_data(personas, frequency="weekly", weekday="4")).status_code == 302
    schedule.refresh_from_db()
    assert (schedule.frequency, schedule.day) == ("weekly", 4)

    browser.post(reverse("report_schedule_pause", kwargs={"reportschedule_id": schedule.pk}))
    assert not beat_entry(schedule).enabled
    browser.post(reverse("report_schedule_resume", kwargs={"reportschedule_id": schedule.pk}))
    assert beat_entry(schedule).enabled

    delete_url = reverse("report_schedule_delete", kwargs={"reportschedule_id": schedule.pk})
    confirm = browser.get(delete_url).content.decode()
    assert "Delete this scheduled report?" in confirm
    assert "Every Friday at 08:00" in confirm
    assert ReportSchedule.objects.exists()
    assert browser.post(delete_url).status_code == 302
    assert not ReportSchedule.objects.exists()
    assert not PeriodicTask.objects.filter(task="assessments.run_report_schedule").exists()


def test_reports_page_lists_schedules_with_their_actions(personas, client_for):
    schedule = ReportScheduleFactory(
        organisation=personas.organisation,
        frequency=ScheduleFrequency.MONTHLY,
        day=21,
        next_run_at=datetime(2026, 11, 21, 8, tzinfo=LONDON),
        delivery=ScheduleDelivery.LINK,
        recipients=[personas.owner, personas.member],
    )
    ReportScheduleFactory(organisation=personas.organisation, paused=True)

    html = client_for(personas.owner).get(reverse("reports")).content.decode()

    assert "Scheduled reports" in html
    assert "On the 21st of every month at 08:00" in html
    assert "21 November 2026 at 08:00" in html
    assert escape(personas.owner.display_name) in html  # names such as O'Connor are escaped
    assert escape(personas.member.display_name) in html
    assert "Link to sign in and download" in html
    assert "Paused" in html
    for name in ("report_schedule_update", "report_schedule_pause", "report_schedule_delete"):
        assert reverse(name, kwargs={"reportschedule_id": schedule.pk}) in html
    assert reverse("report_schedule_create") in html


def test_viewer_sees_schedules_read_only_and_cannot_change_them(personas, client_for):
    schedule = ReportScheduleFactory(organisation=personas.organisation, recipients=[personas.viewer])
    browser = client_for(personas.viewer)

    html = browser.get(reverse("reports")).content.decode()
    assert "Every Monday at 08:00" in html
    assert reverse("report_schedule_create") not in html
    assert reverse("report_schedule_update", kwargs={"reportschedule_id": schedule.pk}) not in html

    assert browser.get(reverse("report_schedule_create")).status_code == 403
    assert browser.post(reverse("report_schedule_create"), form_data(personas)).status_code == 403
    for name in ("report_schedule_update", "report_schedule_pause", "report_schedule_resume", "report_schedule_delete"):
        assert browser.post(reverse(name, kwargs={"reportschedule_id": schedule.pk})).status_code == 403
    assert ReportSchedule.objects.filter(pk=schedule.pk, paused=False).exists()


def test_another_organisations_schedule_is_not_found(personas, client_for):
    theirs = ReportScheduleFactory(organisation=personas.other_organisation, recipients=[personas.outsider])
    browser = client_for(personas.owner)

    assert browser.get(reverse("report_schedule_update", kwargs={"reportschedule_id": theirs.pk})).status_code == 404
    for name in ("report_schedule_update", "report_schedule_pause", "report_schedule_resume", "report_schedule_delete"):
        assert browser.post(reverse(name, kwargs={"reportschedule_id": theirs.pk})).status_code == 404
    assert ReportSchedule.objects.filter(pk=theirs.pk, paused=False).exists()
    assert "Rival Widgets" not in browser.get(reverse("reports")).content.decode()


def test_schedule_pages_need_a_signed_in_member_and_the_right_method(personas, client_for):
    schedule = ReportScheduleFactory(organisation=personas.organisation)
    anonymous = client_for(None)
    for url in (
        reverse("report_schedule_create"),
        reverse("report_schedule_update", kwargs={"reportschedule_id": schedule.pk}),
    ):
        response = anonymous.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    owner = client_for(personas.owner)
    for name in ("report_schedule_pause", "report_schedule_resume"):
        assert owner.get(reverse(name, kwargs={"reportschedule_id": schedule.pk})).status_code == 405
    assert owner.get("/reports/schedules/not-a-number/").status_code == 404


# --- Queries --------------------------------------------------------------------------------------
@pytest.mark.parametrize("schedules", [1, 6])
def test_reports_page_queries_do_not_grow_with_schedules(personas, client_for, django_assert_num_queries, schedules):
    for _ in range(schedules):
        ReportScheduleFactory(organisation=personas.organisation, recipients=[personas.owner, personas.member])
    browser = client_for(personas.owner)
    browser.get(reverse("reports"))

    # + runs, adopted frameworks for the exports, the schedules, and their recipients in one query
    with django_assert_num_queries(REQUEST_BASELINE + 4):
        response = browser.get(reverse("reports"))
    assert len(response.context["schedules"]) == schedules


@pytest.mark.parametrize("path", ["create", "update", "delete"])
def test_schedule_page_queries(personas, client_for, django_assert_num_queries, path):
    schedule = ReportScheduleFactory(organisation=personas.organisation, recipients=[personas.owner])
    url = (
        reverse("report_schedule_create")
        if path == "create"
        else reverse(f"report_schedule_{path}", kwargs={"reportschedule_id": schedule.pk})
    )
    browser = client_for(personas.owner)
    browser.get(url)

    # create: the members to choose from; update: the schedule, its recipients, the members;
    # delete: the schedule.
    expected = {"create": 1, "update": 3, "delete": 1}[path]
    with django_assert_num_queries(REQUEST_BASELINE + expected):
        assert browser.get(url).status_code == 200
