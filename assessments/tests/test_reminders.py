"""The daily assessment reminders: plan tasks due soon or overdue, and an open assessment left alone for
30 days. Each fires once per thing, to the right people."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership, Notification
from accounts.notification_kinds import Channel
from assessments.models import TaskStatus
from assessments.reminders import reminders_send, stale_assessments_remind
from assessments.tasks import send_reminders
from assessments.tests.factories import AnswerFactory, AssessmentRoundFactory, PlanTaskFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 16)
NOW = timezone.make_aware(datetime(2026, 11, 16, 7, 10))


def sent(kind: str) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(kind=kind).order_by("user__email", "title").values_list("user__email", "title")
    )


def task(personas, **fields):
    fields.setdefault("owner", personas.member)
    return PlanTaskFactory(organisation=personas.organisation, **fields)


# --- Plan tasks --------------------------------------------------------------------------------------
def test_a_task_due_within_the_week_reminds_its_owner_once(personas):
    soon = task(personas, title="Turn on backups", due_date=TODAY + timedelta(days=3))
    task(personas, title="Due tomorrow", due_date=TODAY + timedelta(days=1))
    task(personas, title="Not yet", due_date=TODAY + timedelta(days=8))
    task(personas, title="Finished", due_date=TODAY + timedelta(days=2), status=TaskStatus.DONE)
    task(personas, title="Nobody's", due_date=TODAY + timedelta(days=2), owner=None)
    task(personas, title="No date", due_date=None)

    report = reminders_send(now=NOW)

    assert report.tasks_due == 2
    assert sent("task_due") == [
        ("member@acme.example", "Task due in 3 days: Turn on backups"),
        ("member@acme.example", "Task due tomorrow: Due tomorrow"),
    ]
    notification = Notification.objects.get(title="Task due in 3 days: Turn on backups")
    assert notification.url == f"/plan/tasks/{soon.pk}/"
    assert notification.organisation == personas.organisation
    assert "due on 19 November 2026" in notification.body
    assert notification.channel == Channel.DIGEST  # the kind's default
    assert reminders_send(now=NOW).tasks_due == 0
    # The next day only the task that came within the week is news.
    assert reminders_send(now=NOW + timedelta(days=1)).tasks_due == 1
    assert Notification.objects.filter(kind="task_due").count() == 3
    assert Notification.objects.filter(title="Task due in 7 days: Not yet").exists()


def test_an_overdue_task_reminds_its_owner_once_and_a_new_due_date_is_news_again(personas):
    late = task(personas, title="Write the password policy", due_date=TODAY - timedelta(days=2))

    assert reminders_send(now=NOW).tasks_overdue == 1
    assert reminders_send(now=NOW + timedelta(days=1)).tasks_overdue == 0
    assert sent("task_overdue") == [("member@acme.example", "Task overdue: Write the password policy")]
    assert "was due on 14 November 2026" in Notification.objects.get(kind="task_overdue").body

    late.due_date = TODAY + timedelta(days=2)
    late.save()
    assert reminders_send(now=NOW).tasks_due == 1
    late.due_date = TODAY - timedelta(days=1)
    late.save()
    assert reminders_send(now=NOW).tasks_overdue == 1


def test_a_task_whose_owner_left_or_is_deactivated_reminds_nobody(personas):
    task(personas, owner=personas.viewer, due_date=TODAY)
    task(personas, owner=personas.admin, due_date=TODAY)
    Membership.objects.filter(user=personas.viewer).delete()
    personas.admin.is_active = False
    personas.admin.save()
    assert reminders_send(now=NOW).tasks_due == 0
    assert not Notification.objects.exists()


def test_a_task_due_today_says_so(personas):
    task(personas, title="Patch the router", due_date=TODAY)
    reminders_send(now=NOW)
    assert sent("task_due") == [("member@acme.example", "Task due today: Patch the router")]


def test_reminders_stay_in_their_organisation(personas):
    task(personas, due_date=TODAY + timedelta(days=1))
    PlanTaskFactory(organisation=personas.other_organisation, owner=personas.outsider, due_date=TODAY)
    reminders_send(now=NOW)
    assert set(Notification.objects.values_list("organisation__slug", "user__email")) == {
        ("acme-bakery", "member@acme.example"),
        ("rival-widgets", "outsider@rival.example"),
    }


# --- Stale assessments --------------------------------------------------------------------------------
def open_round(organisation, **fields):
    return AssessmentRoundFactory(organisation=organisation, closed_at=None, name="Autumn 2026 assessment", **fields)


def test_an_assessment_untouched_for_30_days_tells_owners_and_admins_once(personas):
    round_ = open_round(personas.organisation, started_at=NOW - timedelta(days=90))
    AnswerFactory(organisation=personas.organisation, round=round_, updated_at=NOW - timedelta(days=45))
    AnswerFactory(organisation=personas.organisation, round=round_, updated_at=NOW - timedelta(days=31))

    assert stale_assessments_remind(now=NOW) == 2

    assert sent("assessment_stale") == [
        ("admin@acme.example", "The assessment has not been touched for 31 days"),
        ("owner@acme.example", "The assessment has not been touched for 31 days"),
    ]
    notification = Notification.objects.filter(kind="assessment_stale").first()
    assert "since 16 October 2026" in notification.body
    assert "Autumn 2026 assessment" in notification.body
    assert notification.url == "/assessment/"
    assert stale_assessments_remind(now=NOW) == 0
    assert stale_assessments_remind(now=NOW + timedelta(days=7)) == 0


def test_a_recent_answer_keeps_it_quiet_and_a_new_quiet_spell_is_news_again(personas):
    round_ = open_round(personas.organisation, started_at=NOW - timedelta(days=90))
    answer = AnswerFactory(organisation=personas.organisation, round=round_, updated_at=NOW - timedelta(days=29))
    assert stale_assessments_remind(now=NOW) == 0

    assert stale_assessments_remind(now=NOW + timedelta(days=2)) == 2
    answer.updated_at = NOW + timedelta(days=5)
    answer.save()
    assert stale_assessments_remind(now=NOW + timedelta(days=20)) == 0
    assert stale_assessments_remind(now=NOW + timedelta(days=36)) == 2


def test_a_round_without_answers_counts_from_its_start_and_closed_rounds_are_left_alone(personas):
    open_round(personas.organisation, started_at=NOW - timedelta(days=40))
    AssessmentRoundFactory(organisation=personas.other_organisation, started_at=NOW - timedelta(days=400))
    assert stale_assessments_remind(now=NOW) == 2
    assert set(Notification.objects.values_list("organisation__slug", flat=True)) == {"acme-bakery"}


def test_the_daily_task_runs_both_reminders(personas):
    task(personas, due_date=TODAY - timedelta(days=1))
    open_round(personas.organisation, started_at=timezone.now() - timedelta(days=40))
    send_reminders.delay()
    assert set(Notification.objects.values_list("kind", flat=True)) == {"task_overdue", "assessment_stale"}
