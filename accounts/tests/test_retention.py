"""The daily retention run: each kind deleted at its boundary (a day over goes, a day under stays), only the
organisation's own rows under its own settings, report files deleted once the rows are gone (and never
before), batches, a second run doing nothing, one audit event per organisation, and queries that do not
grow with the rows."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import retention
from accounts.models import AuditEvent, Organisation
from accounts.retention import AI_CALLS, AUDIT_EVENTS, CONVERSATIONS, REPORT_RUNS
from accounts.tasks import enforce_retention
from accounts.tests.factories import AuditEventFactory, OrganisationFactory, UserFactory
from assessments.models import ReportRun, ReportSchedule, report_build_folder
from assessments.tests.factories import ReportRunFactory, ReportScheduleFactory
from chat.models import AICall, Conversation, Message, MessageRole
from chat.tests.factories import AICallFactory, ConversationFactory, MessageFactory
from config.schedules import PERIODIC_TASKS

pytestmark = pytest.mark.django_db

# Mid-month, so this month's AI request records are not what a boundary test measures.
NOW = timezone.make_aware(datetime(2026, 11, 21, 4, 45))
DAY = timedelta(days=1)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def conversation(organisation: Organisation, *, days: float, messages: int = 2) -> Conversation:
    """A conversation whose last activity (its times and every message) was `days` ago."""
    moment = ago(days)
    talk = ConversationFactory(organisation=organisation, created_at=moment, updated_at=moment)
    question = None
    for number in range(messages):
        question = MessageFactory(
            organisation=organisation,
            conversation=talk,
            role=MessageRole.ASSISTANT if number % 2 else MessageRole.USER,
            reply_to=question if number % 2 else None,
            created_at=moment,
        )
    return talk


def report(organisation: Organisation, *, days: float) -> ReportRun:
    """A finished run of `days` ago with its file stored in its build folder, as a build stores it."""
    run = ReportRunFactory(organisation=organisation, created_at=ago(days), status="done", progress=100)
    run.file = default_storage.save(f"{report_build_folder(run)}/1/readiness.pdf", ContentFile(b"%PDF-1.7 report"))
    run.save(update_fields=["file"])
    return run


def event(organisation: Organisation, *, days: float) -> AuditEvent:
    return AuditEventFactory(organisation=organisation, created_at=ago(days))


def enforce(capture, *, now: datetime = NOW) -> list[retention.RetentionRun]:
    with capture(execute=True):
        return retention.retention_enforce(now=now)


@pytest.fixture
def acme(db) -> Organisation:
    return OrganisationFactory(name="Acme Bakery Ltd")


# --- Each kind at its boundary ---------------------------------------------------------------------------
def test_conversations_a_day_past_the_limit_go_with_their_messages(acme, django_capture_on_commit_callbacks):
    gone = conversation(acme, days=366)
    kept = conversation(acme, days=364)

    enforce(django_capture_on_commit_callbacks)

    assert list(Conversation.objects.filter(organisation=acme)) == [kept]
    assert not Message.objects.filter(conversation_id=gone.pk).exists()
    assert Message.objects.filter(conversation=kept).count() == 2


def test_a_conversation_is_aged_by_its_last_activity(acme, django_capture_on_commit_callbacks):
    written_in = conversation(acme, days=400)
    MessageFactory(organisation=acme, conversation=written_in, created_at=ago(10))
    escalated = conversation(acme, days=400)
    escalated.escalated_at = ago(20)
    escalated.save(update_fields=["escalated_at"])
    answered = conversation(acme, days=400)
    answered.escalated_at, answered.escalation_resolved_at = ago(500), ago(5)
    answered.save(update_fields=["escalated_at", "escalation_resolved_at"])
    idle = conversation(acme, days=400)

    enforce(django_capture_on_commit_callbacks)

    assert set(Conversation.objects.filter(organisation=acme)) == {written_in, escalated, answered}
    assert not Conversation.objects.filter(pk=idle.pk).exists()


def test_ai_request_records_a_day_past_the_limit_go(acme, django_capture_on_commit_callbacks):
    acme.ai_call_retention_days = 30
    acme.save()
    gone = AICallFactory(organisation=acme, created_at=ago(31))
    kept = AICallFactory(organisation=acme, created_at=ago(29))

    enforce(django_capture_on_commit_callbacks)

    assert list(AICall.objects.filter(organisation=acme)) == [kept]
    assert not AICall.objects.filter(pk=gone.pk).exists()


def test_this_months_ai_request_records_stay_whatever_the_setting(acme, django_capture_on_commit_callbacks):
    """The monthly AI allowance is counted from them: deleting them would hand the allowance back."""
    acme.ai_call_retention_days = 7
    acme.save()
    this_month = AICallFactory(organisation=acme, created_at=timezone.make_aware(datetime(2026, 11, 1, 0, 30)))
    last_month = AICallFactory(organisation=acme, created_at=timezone.make_aware(datetime(2026, 10, 31, 23, 0)))

    enforce(django_capture_on_commit_callbacks)

    assert list(AICall.objects.filter(organisation=acme)) == [this_month]
    assert not AICall.objects.filter(pk=last_month.pk).exists()


def test_audit_events_a_day_past_the_limit_go(acme, django_capture_on_commit_callbacks):
    acme.audit_event_retention_days = 365
    acme.save()
    gone = event(acme, days=366)
    kept = event(acme, days=364)

    enforce(django_capture_on_commit_callbacks)

    remaining = set(AuditEvent.objects.filter(organisation=acme).values_list("pk", flat=True))
    assert kept.pk in remaining
    assert gone.pk not in remaining


def test_report_runs_a_day_past_the_limit_go_with_their_files(acme, django_capture_on_commit_callbacks):
    gone = report(acme, days=366)
    # What a build whose worker died stored in the run's folder but never recorded.
    leftover = default_storage.save(f"{report_build_folder(gone)}/0/readiness.pdf", ContentFile(b"half"))
    kept = report(acme, days=364)
    schedule = ReportScheduleFactory(organisation=acme, created_by=UserFactory(), last_run=gone)

    enforce(django_capture_on_commit_callbacks)

    assert list(ReportRun.objects.filter(organisation=acme)) == [kept]
    assert not default_storage.exists(gone.file.name)
    assert not default_storage.exists(leftover)
    assert default_storage.exists(kept.file.name)
    assert ReportSchedule.objects.get(pk=schedule.pk).last_run is None


def test_a_run_without_a_file_goes_too(acme, django_capture_on_commit_callbacks):
    failed = ReportRunFactory(organisation=acme, created_at=ago(400), status="failed", error="It broke")

    enforce(django_capture_on_commit_callbacks)

    assert not ReportRun.objects.filter(pk=failed.pk).exists()


# --- Files after rows, never before --------------------------------------------------------------------------
def test_files_stay_until_the_rows_deletion_commits(acme, django_capture_on_commit_callbacks):
    run = report(acme, days=400)

    with django_capture_on_commit_callbacks(execute=False) as pending:
        retention.retention_enforce(now=NOW)
        # The rows are gone inside the transaction; their files wait for it to commit.
        assert not ReportRun.objects.filter(pk=run.pk).exists()
        assert default_storage.exists(run.file.name)

    assert pending, "the file deletion was not left to run after the commit"
    for callback in pending:
        callback()
    assert not default_storage.exists(run.file.name)


def test_a_rolled_back_run_keeps_rows_and_files_together(acme):
    run = report(acme, days=400)

    def enforce_then_fail() -> None:
        with transaction.atomic():
            retention.retention_enforce(now=NOW)
            raise RuntimeError("the database went away before the commit")

    with pytest.raises(RuntimeError):
        enforce_then_fail()

    assert ReportRun.objects.filter(pk=run.pk).exists()
    assert default_storage.exists(run.file.name)


# --- Whose rows, and how often --------------------------------------------------------------------------------
def test_one_organisations_settings_never_touch_anothers_rows(acme, django_capture_on_commit_callbacks):
    acme.conversation_retention_days = 30
    acme.ai_call_retention_days = 7
    acme.report_run_retention_days = 30
    acme.save()
    patient = OrganisationFactory(
        name="Rival Widgets plc",
        conversation_retention_days=3650,
        ai_call_retention_days=730,
        audit_event_retention_days=3650,
        report_run_retention_days=3650,
    )
    for organisation in (acme, patient):
        conversation(organisation, days=100)
        AICallFactory(organisation=organisation, created_at=ago(100))
        event(organisation, days=400)
        report(organisation, days=100)

    enforce(django_capture_on_commit_callbacks)

    assert not Conversation.objects.filter(organisation=acme).exists()
    assert not AICall.objects.filter(organisation=acme).exists()
    assert not ReportRun.objects.filter(organisation=acme).exists()
    assert Conversation.objects.filter(organisation=patient).count() == 1
    assert Message.objects.filter(organisation=patient).count() == 2
    assert AICall.objects.filter(organisation=patient).count() == 1
    assert AuditEvent.objects.filter(organisation=patient).count() == 1
    run = ReportRun.objects.get(organisation=patient)
    assert default_storage.exists(run.file.name)


def test_one_audit_event_per_organisation_that_lost_something(acme, django_capture_on_commit_callbacks):
    for days in (400, 401, 402):
        conversation(acme, days=days)
    for _ in range(2):
        AICallFactory(organisation=acme, created_at=ago(100))
    quiet = OrganisationFactory(name="Nothing Old Ltd")
    conversation(quiet, days=3)

    runs = enforce(django_capture_on_commit_callbacks)

    assert [run.organisation_id for run in runs] == [acme.pk]
    recorded = AuditEvent.objects.get(organisation=acme, action="retention.enforced")
    assert recorded.summary == "Retention: deleted 3 conversations, 2 AI request records"
    assert recorded.actor is None
    assert recorded.actor_label == "system"
    assert not AuditEvent.objects.filter(organisation=quiet).exists()


def test_a_second_run_deletes_nothing_and_records_nothing(acme, django_capture_on_commit_callbacks):
    conversation(acme, days=400)
    report(acme, days=400)
    enforce(django_capture_on_commit_callbacks)
    events = AuditEvent.objects.filter(organisation=acme).count()

    assert enforce(django_capture_on_commit_callbacks) == []
    assert AuditEvent.objects.filter(organisation=acme).count() == events == 1


def test_the_runs_own_event_is_deleted_by_the_audit_retention_in_its_turn(acme, django_capture_on_commit_callbacks):
    conversation(acme, days=400)
    enforce(django_capture_on_commit_callbacks)
    first = AuditEvent.objects.get(organisation=acme, action="retention.enforced")
    conversation(acme, days=400 - 2191)  # written in later, idle by the time of the later run
    later = first.created_at + timedelta(days=acme.audit_event_retention_days + 1)

    enforce(django_capture_on_commit_callbacks, now=later)

    assert not AuditEvent.objects.filter(pk=first.pk).exists()
    latest = AuditEvent.objects.get(organisation=acme, action="retention.enforced")
    assert latest.summary == "Retention: deleted 1 conversation, 1 audit event"


def test_batches_delete_everything_due(acme, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    monkeypatch.setattr(retention, "CONVERSATION_BATCH_SIZE", 2)
    monkeypatch.setattr(retention, "REPORT_BATCH_SIZE", 2)
    acme.audit_event_retention_days = 365
    acme.save()
    runs = [report(acme, days=400) for _ in range(5)]
    for _ in range(5):
        conversation(acme, days=400)
        AICallFactory(organisation=acme, created_at=ago(100))
        event(acme, days=400)

    (done,) = enforce(django_capture_on_commit_callbacks)

    assert done.deleted == {CONVERSATIONS: 5, AI_CALLS: 5, AUDIT_EVENTS: 5, REPORT_RUNS: 5}
    assert done.files_deleted == 5
    assert not any(default_storage.exists(run.file.name) for run in runs)
    assert not Conversation.objects.filter(organisation=acme).exists()
    assert not Message.objects.filter(organisation=acme).exists()


def _fill(organisation: Organisation, rows: int) -> None:
    for _ in range(rows):
        conversation(organisation, days=400, messages=4)
        AICallFactory(organisation=organisation, created_at=ago(100))
        event(organisation, days=3000)
        report(organisation, days=400)


def test_queries_do_not_grow_with_the_rows(django_capture_on_commit_callbacks):
    few, many = OrganisationFactory(), OrganisationFactory()
    _fill(few, 2)
    _fill(many, 15)

    counts = []
    for organisation in (few, many):
        with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
            run = retention.organisation_retention_enforce(organisation=organisation, now=NOW)
        assert run.total > 0
        counts.append(len(queries))

    assert counts[0] == counts[1], f"queries grew with the rows: {counts}"
    assert run.deleted == {CONVERSATIONS: 15, AI_CALLS: 15, AUDIT_EVENTS: 15, REPORT_RUNS: 15}


# --- The task ------------------------------------------------------------------------------------------------------
def test_the_task_is_scheduled_daily_after_organisation_deletion():
    task, fields = PERIODIC_TASKS[retention.SCHEDULE_NAME]
    assert task == "accounts.enforce_retention" == enforce_retention.name
    assert fields == {"minute": "45", "hour": "4"}


def test_the_task_deletes_and_logs_counts(acme, django_capture_on_commit_callbacks, caplog):
    acme.ai_call_retention_days = 7
    acme.save()
    AICallFactory(organisation=acme, created_at=timezone.now() - timedelta(days=80))
    conversation(acme, days=(NOW - timezone.now()).days + 400)

    with caplog.at_level(logging.INFO, logger="accounts.retention"), django_capture_on_commit_callbacks(execute=True):
        deleted = enforce_retention.delay().get()

    assert deleted == 2
    assert "Retention: deleted 1 conversation, 1 AI request record for organisation" in caplog.text
    line = next(record for record in caplog.records if getattr(record, "organisation_id", None) == acme.pk)
    assert line.conversation_deleted == 1
    assert line.ai_call_deleted == 1


def test_one_organisation_failing_does_not_stop_the_others(acme, django_capture_on_commit_callbacks, monkeypatch):
    broken = OrganisationFactory(name="Broken Ltd")
    conversation(acme, days=400)
    conversation(broken, days=400)
    enforce_one = retention.organisation_retention_enforce

    def failing_for_broken(*, organisation: Organisation, now: datetime) -> retention.RetentionRun:
        if organisation.pk == broken.pk:
            raise RuntimeError("disk on fire")
        return enforce_one(organisation=organisation, now=now)

    monkeypatch.setattr(retention, "organisation_retention_enforce", failing_for_broken)

    runs = enforce(django_capture_on_commit_callbacks)

    assert [run.organisation_id for run in runs] == [acme.pk]
    assert Conversation.objects.filter(organisation=broken).count() == 1


# --- When the run happens ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 21, 14, 0), datetime(2026, 11, 22, 4, 45)),
        (datetime(2026, 11, 21, 3, 0), datetime(2026, 11, 21, 4, 45)),
        (datetime(2026, 11, 21, 4, 45), datetime(2026, 11, 22, 4, 45)),
        # The clocks go forward on 29 March 2026: still 04:45 local time.
        (datetime(2026, 3, 28, 12, 0), datetime(2026, 3, 29, 4, 45)),
    ],
)
def test_next_run_is_the_schedules_time_uk(moment, expected):
    assert retention.next_run_after(timezone.make_aware(moment)) == timezone.make_aware(expected)


def test_in_words():
    assert [retention.in_words(days) for days in (1, 7, 90, 365, 730, 2190, 400)] == [
        "1 day",
        "7 days",
        "90 days",
        "1 year",
        "2 years",
        "6 years",
        "400 days",
    ]


def test_the_preview_counts_what_the_run_deletes(acme, django_capture_on_commit_callbacks):
    acme.audit_event_retention_days = 365
    acme.save()
    other = OrganisationFactory(conversation_retention_days=30)
    for organisation in (acme, other):
        conversation(organisation, days=366)
        conversation(organisation, days=364)
        AICallFactory(organisation=organisation, created_at=ago(91))
        AICallFactory(organisation=organisation, created_at=ago(89))
        event(organisation, days=366)
        report(organisation, days=366)
        report(organisation, days=100)

    preview = retention.retention_preview(acme, at=NOW)
    (done,) = [run for run in enforce(django_capture_on_commit_callbacks) if run.organisation_id == acme.pk]

    assert preview == done.deleted == {CONVERSATIONS: 1, AI_CALLS: 1, AUDIT_EVENTS: 1, REPORT_RUNS: 1}
