"""Retention: how long an organisation keeps the records that need not be kept for ever, and the daily run
that deletes older ones.

Four kinds, each with its own setting on the Organisation, in days: assistant conversations (by their last
activity, with every message), AI request records, audit events and report runs (with their stored files).
The daily task (`accounts.enforce_retention`) takes one organisation at a time with that organisation's own
cut-offs; each kind goes in batches, each batch a short transaction of its own, so memory and lock time stay
bounded however much is due. A second run finds nothing more to delete.

A report run's files are deleted once the transaction that deleted its row has committed: a failure before
then leaves the row with its file, never a row without one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.access import require_actor
from accounts.audit import SYSTEM, Actor, audit_record
from accounts.models import AuditEvent, Organisation
from accounts.roles import Capability
from assessments.models import ReportRun, report_build_folder
from chat.models import AICall, Conversation, Message
from config.schedules import PERIODIC_TASKS
from evidence.services.storage import files_under

logger = logging.getLogger(__name__)

SCHEDULE_NAME = "Delete records past their retention"
TASK_NAME = "accounts.enforce_retention"

# Rows per batch. Conversations and report runs bring their messages and files along, so they go in
# smaller batches than the rows deleted by a single statement.
BATCH_SIZE = 1000
CONVERSATION_BATCH_SIZE = 200
REPORT_BATCH_SIZE = 200


@dataclass(frozen=True)
class RetainedKind:
    """One kind of record an organisation sets a retention period for."""

    field: str  # the Organisation field holding the days
    label: str  # as the settings page names the setting
    singular: str
    plural: str
    minimum: int
    maximum: int
    help_text: str
    # How the page says which rows are due: "with no activity for over" a period, or "older than" it.
    age: str = "older than"

    def noun(self, count: int) -> str:
        return self.singular if count == 1 else self.plural


CONVERSATIONS = RetainedKind(
    field="conversation_retention_days",
    label="Assistant conversations",
    singular="conversation",
    plural="conversations",
    minimum=30,
    maximum=3650,
    help_text="A conversation with the assistant is deleted, with every message in it, once nobody has written "
    "in it for this long. Between 30 days and 10 years.",
    age="with no activity for over",
)
AI_CALLS = RetainedKind(
    field="ai_call_retention_days",
    label="AI request records",
    singular="AI request record",
    plural="AI request records",
    minimum=7,
    maximum=730,
    help_text="The record of each request to an AI provider: the feature, provider, tokens and cost (and, only "
    "if this installation stores them, the redacted prompt and answer). This month's records are kept until the "
    "month ends whatever the setting, because the monthly AI allowance is counted from them. Between 7 days "
    "and 2 years.",
)
AUDIT_EVENTS = RetainedKind(
    field="audit_event_retention_days",
    label="Audit events",
    singular="audit event",
    plural="audit events",
    minimum=365,
    maximum=3650,
    help_text="The audit log: who changed what, and when. At least a year: an auditor, an insurer or an "
    "investigation usually looks back at least that far, and a shorter trail defeats its purpose. Six years "
    "matches how long UK businesses keep their records. Between 1 and 10 years.",
)
REPORT_RUNS = RetainedKind(
    field="report_run_retention_days",
    label="Report runs",
    singular="report run",
    plural="report runs",
    minimum=30,
    maximum=3650,
    help_text="Each report asked for or sent on a schedule, with its file. Between 30 days and 10 years.",
)
KINDS: tuple[RetainedKind, ...] = (CONVERSATIONS, AI_CALLS, AUDIT_EVENTS, REPORT_RUNS)
FIELDS = tuple(kind.field for kind in KINDS)


def in_words(days: int) -> str:
    """A period as people say it: whole years as years ("6 years"), anything else in days ("90 days")."""
    if days >= 365 and days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years != 1 else ''}"
    return f"{days:,} day{'s' if days != 1 else ''}"


def bound_errors(kind: RetainedKind) -> dict[str, str]:
    return {
        "min_value": f"Keep {kind.label.lower()} for at least {in_words(kind.minimum)}.",
        "max_value": f"Keep {kind.label.lower()} for at most {in_words(kind.maximum)} ({kind.maximum:,} days).",
    }


# --- When the daily run deletes what ---------------------------------------------------------------
def next_run_after(moment: datetime) -> datetime:
    """When the daily run next starts after `moment`, at the time its schedule gives (Europe/London)."""
    _task, fields = PERIODIC_TASKS[SCHEDULE_NAME]
    at = time(int(fields["hour"]), int(fields["minute"]))
    day = timezone.localdate(moment)
    start = timezone.make_aware(datetime.combine(day, at))
    if start <= moment:
        start = timezone.make_aware(datetime.combine(day + timedelta(days=1), at))
    return start


def _month_start(moment: datetime) -> datetime:
    # The same month as chat.ai.records.tokens_used_this_month counts the allowance over (UK time).
    return timezone.localtime(moment).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def cutoffs(organisation: Organisation, at: datetime) -> dict[RetainedKind, datetime]:
    """Per kind, the moment before which the organisation's records are due for deletion at `at`."""
    limits = {kind: at - timedelta(days=getattr(organisation, kind.field)) for kind in KINDS}
    # Deleting this month's AI request records would give back the monthly allowance they used.
    limits[AI_CALLS] = min(limits[AI_CALLS], _month_start(at))
    return limits


def expired(kind: RetainedKind, organisation_id: int, cutoff: datetime) -> QuerySet:
    """The organisation's records of `kind` due for deletion: only its own, never another's."""
    if kind is CONVERSATIONS:
        # Last activity: the conversation's own times and its newest message, whichever is latest.
        newer_message = Message.objects.filter(conversation=OuterRef("pk"), created_at__gte=cutoff)
        return (
            Conversation.objects.filter(organisation_id=organisation_id, created_at__lt=cutoff, updated_at__lt=cutoff)
            .exclude(escalated_at__gte=cutoff)
            .exclude(escalation_resolved_at__gte=cutoff)
            .exclude(Exists(newer_message))
        )
    if kind is AI_CALLS:
        return AICall.objects.filter(organisation_id=organisation_id, created_at__lt=cutoff)
    if kind is AUDIT_EVENTS:
        # The base manager: the audit log's own manager refuses deletes, so nothing else removes events.
        return AuditEvent._base_manager.filter(organisation_id=organisation_id, created_at__lt=cutoff)
    return ReportRun.objects.filter(organisation_id=organisation_id, created_at__lt=cutoff)


def retention_preview(organisation: Organisation, *, at: datetime) -> dict[RetainedKind, int]:
    """How many records of each kind the run at `at` will delete: one query, however many there are."""
    limits = cutoffs(organisation, at)

    def count(kind: RetainedKind) -> Coalesce:
        rows = expired(kind, organisation.pk, limits[kind]).order_by().values("organisation_id")
        return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), Value(0), output_field=IntegerField())

    # Named apart from the Organisation's own fields, which annotations may not shadow.
    names = {kind: f"due_{kind.field}" for kind in KINDS}
    found = Organisation.objects.filter(pk=organisation.pk).values(**{names[kind]: count(kind) for kind in KINDS})
    row: dict[str, Any] = dict(found.first() or {})
    return {kind: int(row.get(names[kind]) or 0) for kind in KINDS}


# --- Changing the settings ---------------------------------------------------------------------------
def retention_settings_update(*, organisation: Organisation, actor: Actor, days: Mapping[str, int]) -> list[str]:
    """Set the organisation's retention periods (owners and admins); returns what changed, in words, as the
    audit event records it ("audit events 6 years → 7 years"). Nothing changed records nothing."""
    require_actor(organisation, actor, Capability.ADMINISTER, what="retention settings")
    errors = {}
    for kind in KINDS:
        value = days.get(kind.field, getattr(organisation, kind.field))
        if value < kind.minimum:
            errors[kind.field] = bound_errors(kind)["min_value"]
        elif value > kind.maximum:
            errors[kind.field] = bound_errors(kind)["max_value"]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        changed = [kind for kind in KINDS if kind.field in days and days[kind.field] != getattr(locked, kind.field)]
        changes = [
            f"{kind.label.lower()} {in_words(getattr(locked, kind.field))} → {in_words(days[kind.field])}"
            for kind in changed
        ]
        if not changed:
            return []
        for kind in changed:
            setattr(locked, kind.field, days[kind.field])
            setattr(organisation, kind.field, days[kind.field])
        locked.save(update_fields=[kind.field for kind in changed])
        audit_record(
            organisation=locked,
            actor=actor,
            action="organisation.retention_changed",
            summary=f"Retention changed: {'; '.join(changes)}",
            target=locked,
        )
    return changes


# --- The daily run ------------------------------------------------------------------------------------
@dataclass
class RetentionRun:
    organisation_id: int
    deleted: dict[RetainedKind, int]
    files_deleted: int = 0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def summary(self) -> str:
        parts = [f"{count:,} {kind.noun(count)}" for kind, count in self.deleted.items() if count]
        return f"Retention: deleted {', '.join(parts)}" if parts else "Retention: nothing to delete"


def _in_batches(step: Callable[[int], tuple[int, int]], size: int) -> int:
    """Run `step(size)` (one batch: rows selected, rows deleted) until a batch comes back short."""
    total = 0
    while True:
        selected, deleted = step(size)
        total += deleted
        if selected < size:
            return total


def _delete_rows(kind: RetainedKind, organisation_id: int, cutoff: datetime, size: int) -> tuple[int, int]:
    """One batch of a kind without files, in its own transaction. The delete applies the cut-off again, so a
    conversation written in since it was selected stays."""
    due = expired(kind, organisation_id, cutoff)
    with transaction.atomic():
        pks = list(due.order_by("pk").values_list("pk", flat=True)[:size])
        if not pks:
            return 0, 0
        _total, by_model = due.filter(pk__in=pks).delete()
    return len(pks), by_model.get(due.model._meta.label, 0)


def _report_files(organisation_id: int, rows: Iterable[tuple[int, str]]) -> list[str]:
    """The recorded file of each run and anything else in its build folder (what a build whose worker died
    stored but never recorded). Listed once the rows are gone, so a build finishing meanwhile is caught."""
    names = {name for _pk, name in rows if name}
    for pk, _name in rows:
        names.update(files_under(report_build_folder(ReportRun(pk=pk, organisation_id=organisation_id))))
    return sorted(names)


def _delete_files(names: Iterable[str], run: RetentionRun) -> None:
    for name in names:
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
                run.files_deleted += 1
        except Exception:  # the file stays; the log says which, for whoever looks after the storage
            logger.warning("Could not delete the report file %s past its retention", name, exc_info=True)


def _delete_report_runs(organisation_id: int, cutoff: datetime, size: int, *, run: RetentionRun) -> tuple[int, int]:
    due = expired(REPORT_RUNS, organisation_id, cutoff)
    with transaction.atomic():
        rows = list(due.order_by("pk").values_list("pk", "file")[:size])
        if not rows:
            return 0, 0
        _total, by_model = due.filter(pk__in=[pk for pk, _file in rows]).delete()
        # Files go only once the rows are really gone: a rolled-back delete keeps rows and files together.
        transaction.on_commit(lambda: _delete_files(_report_files(organisation_id, rows), run))
    return len(rows), by_model.get(ReportRun._meta.label, 0)


def organisation_retention_enforce(*, organisation: Organisation, now: datetime) -> RetentionRun:
    """Delete the organisation's records past its retention periods, and record one audit event when
    anything went. Queries per kind depend on batches, never on rows."""
    limits = cutoffs(organisation, now)
    run = RetentionRun(organisation_id=organisation.pk, deleted={})
    for kind in (CONVERSATIONS, AI_CALLS, AUDIT_EVENTS):
        size = CONVERSATION_BATCH_SIZE if kind is CONVERSATIONS else BATCH_SIZE
        run.deleted[kind] = _in_batches(partial(_delete_rows, kind, organisation.pk, limits[kind]), size)
    reports = partial(_delete_report_runs, organisation.pk, limits[REPORT_RUNS], run=run)
    run.deleted[REPORT_RUNS] = _in_batches(reports, REPORT_BATCH_SIZE)
    if run.total:
        # Itself an audit event like any other: the audit retention deletes it in its turn.
        audit_record(organisation=organisation, actor=SYSTEM, action="retention.enforced", summary=run.summary())
        logger.info(
            "%s for organisation %s",
            run.summary(),
            organisation.pk,
            extra={
                "organisation_id": organisation.pk,
                **{f"{kind.field.removesuffix('_retention_days')}_deleted": n for kind, n in run.deleted.items()},
            },
        )
    return run


def retention_enforce(*, now: datetime | None = None) -> list[RetentionRun]:
    """The daily run over every organisation, one at a time: one failing is logged and left for tomorrow,
    the others go ahead. Returns the organisations that had something deleted."""
    now = now or timezone.now()
    organisations = list(Organisation.objects.order_by("pk").only("pk", "name", *FIELDS))
    done = []
    for organisation in organisations:
        try:
            run = organisation_retention_enforce(organisation=organisation, now=now)
        except Exception:
            logger.exception("Retention for organisation %s failed; the next run tries again", organisation.pk)
            continue
        if run.total:
            done.append(run)
    logger.info(
        "Retention run: %s of %s organisations had records deleted, %s records in all",
        len(done),
        len(organisations),
        sum(run.total for run in done),
    )
    return done
