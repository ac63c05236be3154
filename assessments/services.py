"""Every write of the SMB journey: profile, adoption, answers, rounds, snapshots and the plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Organisation, User
from accounts.webhooks import api_url, webhook_emit, webhooks_wanted
from assessments import selectors
from assessments.models import (
    Answer,
    AnswerStatus,
    AssessmentRound,
    BusinessProfile,
    Effort,
    FrameworkAdoption,
    PlanTask,
    Priority,
    ReadinessSnapshot,
    TaskStatus,
)
from compliance.models import Control, ControlMapping, Framework, Relationship
from config.queueing import enqueue_on_commit

SNAPSHOT_DEBOUNCE_SECONDS = 30


# --- Business profile -----------------------------------------------------------------------------
def profile_get_or_create(*, organisation: Organisation) -> BusinessProfile:
    profile, _created = BusinessProfile.objects.get_or_create(
        organisation=organisation, defaults={"company_name": organisation.name}
    )
    return profile


@transaction.atomic
def profile_update(*, organisation: Organisation, values: dict[str, Any], step: str, actor: Actor) -> BusinessProfile:
    """Save one wizard step (or an edit). Records which fields changed; re-running recommendations is
    a read, so nothing else needs to happen here."""
    profile = profile_get_or_create(organisation=organisation)
    changed = [name for name, value in values.items() if getattr(profile, name) != value]
    for name, value in values.items():
        setattr(profile, name, value)
    profile.last_step = step
    profile.full_clean()
    profile.save()
    if changed:
        labels = ", ".join(str(BusinessProfile._meta.get_field(name).verbose_name) for name in changed)  # type: ignore[union-attr]
        audit_record(
            organisation=organisation,
            actor=actor,
            action="profile.updated",
            summary=f"Updated the business profile: {labels}"[:500],
            target=profile,
        )
        snapshot_schedule(organisation=organisation)  # applicability may have changed
    return profile


@transaction.atomic
def profile_complete(*, organisation: Organisation, actor: Actor) -> BusinessProfile:
    profile = profile_get_or_create(organisation=organisation)
    if profile.completed_at is None:
        profile.completed_at = timezone.now()
        profile.save(update_fields=["completed_at"])
        audit_record(
            organisation=organisation,
            actor=actor,
            action="profile.completed",
            summary="Completed the business profile",
            target=profile,
        )
    return profile


# --- Adopting frameworks --------------------------------------------------------------------------
@transaction.atomic
def framework_adopt(
    *, organisation: Organisation, framework: Framework, target_date: date | None, actor: Actor
) -> FrameworkAdoption:
    if target_date is not None and target_date < timezone.localdate():
        raise ValidationError("Choose a target date in the future.")
    adoption, created = FrameworkAdoption.objects.get_or_create(
        organisation=organisation,
        framework=framework,
        defaults={"target_date": target_date, "adopted_by": actor.user},
    )
    target_changed = not created and adoption.target_date != target_date
    if target_changed:
        adoption.target_date = target_date
        adoption.save(update_fields=["target_date"])
    if created or target_changed:
        when = f" with a target of {target_date:%-d %B %Y}" if target_date else ""
        audit_record(
            organisation=organisation,
            actor=actor,
            action="framework.adopted" if created else "framework.target_changed",
            summary=(
                f"Adopted {framework.name}{when}"
                if created
                else f"Set the target for {framework.name}{when}"
                if target_date
                else f"Removed the target date for {framework.name}"
            ),
            target=adoption,
        )
    round_current(organisation=organisation)
    snapshot_schedule(organisation=organisation)
    return adoption


@transaction.atomic
def framework_drop(*, adoption: FrameworkAdoption, actor: Actor) -> None:
    """Stop working towards a framework. Answers stay (they may count again if it is re-adopted)."""
    audit_record(
        organisation=adoption.organisation,
        actor=actor,
        action="framework.dropped",
        summary=f"Stopped working towards {adoption.framework.name}",
        target=adoption,
    )
    organisation = adoption.organisation
    adoption.delete()
    snapshot_schedule(organisation=organisation)


# --- Assessment rounds and answers ----------------------------------------------------------------
def round_current(*, organisation: Organisation) -> AssessmentRound:
    """The open round, created on first use. Safe when two requests race to create it."""
    current = selectors.open_round(organisation)
    if current is not None:
        return current
    try:
        with transaction.atomic():
            return AssessmentRound.objects.create(
                organisation=organisation, name=f"Assessment started {timezone.localdate():%-d %B %Y}"
            )
    except IntegrityError:
        return AssessmentRound.objects.get(organisation=organisation, closed_at__isnull=True)


@transaction.atomic
def round_start(*, organisation: Organisation, name: str, actor: Actor) -> AssessmentRound:
    """Close the open round and start a new one from its answers, so work carries on and the old
    round stays as it was."""
    previous = selectors.open_round(organisation)
    now = timezone.now()
    if previous is not None:
        previous.closed_at = now
        previous.save(update_fields=["closed_at"])
    new_round = AssessmentRound.objects.create(
        organisation=organisation, name=name.strip() or f"Assessment started {timezone.localdate():%-d %B %Y}"
    )
    if previous is not None:
        Answer.objects.bulk_create(
            [
                Answer(
                    organisation=organisation,
                    round=new_round,
                    control_id=a.control_id,
                    status=a.status,
                    notes=a.notes,
                    justification=a.justification,
                    owner_id=a.owner_id,
                    via_control_id=a.via_control_id,
                    updated_by_id=a.updated_by_id,
                    updated_at=a.updated_at,
                )
                for a in Answer.objects.filter(organisation=organisation, round=previous)
            ],
            batch_size=500,
        )
    audit_record(
        organisation=organisation,
        actor=actor,
        action="assessment.round_started",
        summary=f"Started a new assessment round: {new_round.name}",
        target=new_round,
    )
    return new_round


class StaleAnswer(Exception):
    """Raised by `answer_save(refuse_stale=True)` when the answer changed since the caller read it."""

    def __init__(self, answer: Answer | None) -> None:
        super().__init__("The answer changed since it was read.")
        self.answer = answer


@dataclass
class AnswerResult:
    answer: Answer
    changed: bool
    # When the form was out of date: who had answered in between, and what they had said.
    overwrote: str = ""
    applied_to: list[Control] = field(default_factory=list)


def _describe(answer: Answer) -> str:
    who = answer.updated_by.email if answer.updated_by else "someone"
    return f"{who} had answered {answer.get_status_display().lower()}"


@transaction.atomic
def answer_save(
    *,
    organisation: Organisation,
    control: Control,
    status: str,
    actor: Actor,
    notes: str = "",
    justification: str = "",
    owner: User | None = None,
    expected_version: int | None = None,
    apply_to_mapped: bool = False,
    refuse_stale: bool = False,
) -> AnswerResult:
    """Answer one control in the open round (last write wins, and the audit log keeps what it replaced).

    Saving the same answer twice changes nothing, so double submits are harmless. With
    `apply_to_mapped` (combined mode), the answer also goes to every adopted control that is equal to
    this one, or that this one covers, unless that control has an answer of its own.

    With `refuse_stale` (the API's optimistic concurrency), an `expected_version` that is not the
    answer's current one (0: no answer yet) raises StaleAnswer instead of overwriting, whoever
    answered in between; sending what is already saved still changes nothing and raises nothing.
    """
    if status not in AnswerStatus.values:
        raise ValidationError("Choose implemented, partially, not implemented or not applicable.")
    if status == AnswerStatus.NOT_APPLICABLE and not justification.strip():
        raise ValidationError("Say why this control does not apply: the reason is kept for auditors.")
    current_round = round_current(organisation=organisation)
    answer = (
        # Lock only the answer row: PostgreSQL refuses FOR UPDATE on the nullable side of the join.
        Answer.objects.select_for_update(of=("self",))
        .select_related("updated_by")
        .filter(organisation=organisation, round=current_round, control=control)
        .first()
    )
    values = {"status": status, "notes": notes.strip(), "justification": justification.strip(), "owner": owner}
    if refuse_stale and expected_version is not None:
        current_version = answer.version if answer is not None else 0
        same = answer is not None and all(getattr(answer, name) == value for name, value in values.items())
        if expected_version != current_version and not same:
            raise StaleAnswer(answer)
    overwrote = ""
    created = False
    if answer is None:
        answer, created = _create_first_answer(
            Answer(organisation=organisation, round=current_round, control=control, updated_by=actor.user, **values)
        )
    if created:
        action, summary = (
            "answer.created",
            f"Answered {control.framework.name} {control.ref}: {answer.get_status_display()}",
        )
    else:
        changed = any(getattr(answer, name) != value for name, value in values.items())
        if not changed:
            return AnswerResult(answer=answer, changed=False)
        # A stale form only matters when someone else answered in between (not your own autosave).
        someone_else = answer.updated_by_id != (actor.user.pk if actor.user else None)
        if expected_version is not None and expected_version != answer.version and someone_else:
            overwrote = _describe(answer)
        previous = answer.get_status_display()
        for name, value in values.items():
            setattr(answer, name, value)
        answer.via_control = None
        answer.updated_by = actor.user
        answer.updated_at = timezone.now()
        answer.version += 1
        answer.full_clean()
        answer.save()
        action = "answer.updated"
        summary = f"Changed {control.framework.name} {control.ref} from {previous} to {answer.get_status_display()}"
        if overwrote:
            summary += f" (replacing a newer answer: {overwrote})"
    audit_record(organisation=organisation, actor=actor, action=action, summary=summary[:500], target=answer)
    applied: list[Control] = []
    if apply_to_mapped and status != AnswerStatus.NOT_APPLICABLE:
        applied = _apply_to_mapped(
            organisation=organisation, control=control, round_=current_round, status=status, actor=actor
        )
    snapshot_schedule(organisation=organisation)
    return AnswerResult(answer=answer, changed=True, overwrote=overwrote, applied_to=applied)


def _create_first_answer(answer: Answer) -> tuple[Answer, bool]:
    """Store the control's first answer in the round; or, when someone else's first answer landed a
    moment ago (two people, one control), that answer, locked, so this one updates it instead of failing."""
    # The unique constraint decides the race; full_clean would turn losing it into a form error.
    answer.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            answer.save()
    except IntegrityError:
        existing = (
            Answer.objects.select_for_update(of=("self",))
            .select_related("updated_by")
            .get(round_id=answer.round_id, control_id=answer.control_id)
        )
        return existing, False
    return answer, True


def covered_controls(control: Control, *, within: set[int]) -> list[Control]:
    """Adopted controls that implementing `control` also implements (equal, or it is their superset)."""
    ids: set[int] = set()
    for target, relationship in ControlMapping.objects.filter(source=control).values_list("target_id", "relationship"):
        if relationship in (Relationship.EQUAL, Relationship.SUPERSET):
            ids.add(target)
    for source, relationship in ControlMapping.objects.filter(target=control).values_list("source_id", "relationship"):
        if relationship in (Relationship.EQUAL, Relationship.SUBSET):
            ids.add(source)
    return list(Control.objects.live().filter(pk__in=ids & within).select_related("framework"))


def _apply_to_mapped(
    *, organisation: Organisation, control: Control, round_: AssessmentRound, status: str, actor: Actor
) -> list[Control]:
    adopted = set(
        Control.objects.live()
        .filter(
            framework_id__in=FrameworkAdoption.objects.filter(organisation=organisation).values("framework_id"),
            assessable=True,
        )
        .values_list("pk", flat=True)
    )
    targets = covered_controls(control, within=adopted)
    already = set(
        Answer.objects.filter(round=round_, control__in=targets)
        .exclude(via_control=control)
        .values_list("control_id", flat=True)
    )
    applied = [target for target in targets if target.pk not in already]
    for target in applied:
        existing = Answer.objects.filter(organisation=organisation, round=round_, control=target)
        # Bump the version so a form opened before this change reports the overwrite.
        if existing.update(
            status=status,
            via_control=control,
            updated_by=actor.user,
            updated_at=timezone.now(),
            version=F("version") + 1,
        ):
            continue
        Answer.objects.create(
            organisation=organisation,
            round=round_,
            control=target,
            status=status,
            via_control=control,
            updated_by=actor.user,
            updated_at=timezone.now(),
        )
    if applied:
        refs = ", ".join(f"{c.framework.name} {c.ref}" for c in applied)
        audit_record(
            organisation=organisation,
            actor=actor,
            action="answer.applied_to_mapped",
            summary=f"Applied the answer for {control.framework.name} {control.ref} to {refs}"[:500],
            target=control,
        )
    return applied


# --- Readiness snapshots --------------------------------------------------------------------------
def snapshot_schedule(*, organisation: Organisation) -> None:
    """Ask for a snapshot after the current transaction, at most one pending per organisation.

    Answers arrive in bursts (autosave); a snapshot a little later covers the whole burst.
    """
    from assessments.tasks import take_readiness_snapshot

    if cache.add(f"assessments:snapshot-pending:{organisation.pk}", 1, timeout=SNAPSHOT_DEBOUNCE_SECONDS):
        enqueue_on_commit(take_readiness_snapshot, organisation.pk, countdown=SNAPSHOT_DEBOUNCE_SECONDS)


@transaction.atomic
def snapshot_take(*, organisation: Organisation) -> list[ReadinessSnapshot]:
    cache.delete(f"assessments:snapshot-pending:{organisation.pk}")
    readiness = selectors.readiness_for(organisation)
    now = timezone.now()
    rows = [
        ReadinessSnapshot(
            organisation=organisation,
            framework=f.adoption.framework,
            taken_at=now,
            score=f.score.percent,
            band=f.score.band,
            would_fail=f.score.would_fail,
            applicable=f.score.applicable,
            answered=f.score.answered,
            implemented=f.score.implemented,
        )
        for f in readiness.frameworks
    ]
    # Before the new rows exist, so each framework is compared with its previous snapshot.
    _readiness_changes_emit(organisation, rows)
    if rows:
        from assessments.scoring import band_for

        rows.append(
            ReadinessSnapshot(
                organisation=organisation,
                framework=None,
                taken_at=now,
                score=readiness.overall,
                band=band_for(readiness.overall),
                would_fail=any(f.score.would_fail for f in readiness.frameworks),
                applicable=sum(r.applicable for r in rows),
                answered=sum(r.answered for r in rows),
                implemented=sum(r.implemented for r in rows),
            )
        )
    return ReadinessSnapshot.objects.bulk_create(rows)


def _readiness_changes_emit(organisation: Organisation, rows: list[ReadinessSnapshot]) -> None:
    """Webhook subscribers hear of each framework whose score or band differs from its previous snapshot
    (a framework's first snapshot is not a change). Nothing is looked up when nobody subscribes."""
    if not rows or not webhooks_wanted(organisation=organisation, event="readiness.changed"):
        return
    latest = (
        ReadinessSnapshot.objects.filter(organisation=organisation, framework=OuterRef("framework"))
        .order_by("-taken_at", "-pk")
        .values("pk")[:1]
    )
    previous = {
        snapshot.framework_id: snapshot
        for snapshot in ReadinessSnapshot.objects.filter(
            organisation=organisation, framework_id__in=[row.framework_id for row in rows], pk=Subquery(latest)
        )
    }
    for row in rows:
        before = previous.get(row.framework_id)
        if before is None or (before.score == row.score and before.band == row.band):
            continue
        assert row.framework is not None  # only per-framework rows have a previous snapshot
        webhook_emit(
            organisation=organisation,
            event="readiness.changed",
            data={
                "framework": {"slug": row.framework.slug, "name": row.framework.name},
                "previous": {"score": float(before.score), "band": before.band},
                "current": {"score": float(row.score), "band": row.band},
                "url": api_url(organisation, "readiness/"),
            },
        )


# --- Implementation plan --------------------------------------------------------------------------
def gap_priority(gap: selectors.RankedGap) -> int:
    if gap.auto_fail:
        return Priority.CRITICAL
    if gap.weight >= 5:
        return Priority.HIGH
    if gap.weight >= 3:
        return Priority.MEDIUM
    return Priority.LOW


EFFORT_SIZES = [Effort.SMALL, Effort.MEDIUM, Effort.LARGE]


def gap_effort(gap: selectors.RankedGap, question_count: int) -> str:
    """A rough size from how much the control asks: more questions, more work. A partly done
    control is a size smaller."""
    size = 0 if question_count <= 2 else 1 if question_count <= 4 else 2
    if gap.status == AnswerStatus.PARTIAL:
        size = max(size - 1, 0)
    return EFFORT_SIZES[size]


EFFORT_ORDER: dict[str, int] = {Effort.SMALL: 0, Effort.MEDIUM: 1, Effort.LARGE: 2}
EFFORT_DAYS: dict[str, int] = {Effort.SMALL: 3, Effort.MEDIUM: 10, Effort.LARGE: 25}


@transaction.atomic
def plan_generate(*, organisation: Organisation, actor: Actor, today: date | None = None) -> list[PlanTask]:
    """Turn the gaps into tasks, by code: one task per gap (joined with mapped gaps it also closes),
    auto-fail first, then quick wins (high impact, small effort). Due dates are spread from today
    towards each framework's target date. Gaps that already have an open task are left alone, so
    generating again only adds what is new."""
    from compliance.models import Question

    today = today or timezone.localdate()
    readiness = selectors.readiness_for(organisation)
    gaps = selectors.gaps_for(readiness)
    taken = selectors.open_tasks_by_control(organisation)
    question_counts: dict[int, int] = {}
    for control_id in (
        Question.objects.live().filter(control_id__in=[g.control.pk for g in gaps]).values_list("control_id", flat=True)
    ):
        question_counts[control_id] = question_counts.get(control_id, 0) + 1
    targets = {f.adoption.framework_id: f.adoption.target_date for f in readiness.frameworks}

    planned: list[tuple[selectors.Gap, list[int]]] = []
    covered: set[int] = set(taken)
    gap_ids = {gap.control.pk for gap in gaps}
    for gap in gaps:
        if gap.control.pk in covered:
            continue
        joined = [
            gap.control.pk,
            *sorted(
                other for other in readiness.mapped.get(gap.control.pk, ()) if other in gap_ids and other not in covered
            ),
        ]
        covered.update(joined)
        planned.append((gap, joined))

    gaps_by_control = {gap.control.pk: gap for gap in gaps}

    def task_priority(joined: list[int]) -> int:
        # A task is as urgent as the most urgent gap it closes.
        return min(gap_priority(gaps_by_control[control_id]) for control_id in joined)

    def order_key(item: tuple[selectors.Gap, list[int]]) -> tuple[int, int, int]:
        gap, joined = item
        effort = gap_effort(gap, question_counts.get(gap.control.pk, 0))
        return (task_priority(joined), EFFORT_ORDER[effort], -int(gap.impact * 10))

    planned.sort(key=order_key)
    start = PlanTask.objects.filter(organisation=organisation).count()
    tasks: list[PlanTask] = []
    cursor = today
    for index, (gap, joined) in enumerate(planned):
        control = gap.control
        effort = gap_effort(gap, question_counts.get(control.pk, 0))
        cursor = cursor + timedelta(days=EFFORT_DAYS[effort])
        target = targets.get(control.framework_id)
        due = min(cursor, target) if target else cursor
        others = [gaps_by_control[i].control for i in joined[1:]]
        also = f" Also closes {', '.join(f'{c.framework.name} {c.ref}' for c in others)}." if others else ""
        tasks.append(
            PlanTask(
                organisation=organisation,
                title=f"{control.framework.name} {control.ref}: {control.title}"[:300],
                description=(control.description + also).strip(),
                priority=task_priority(joined),
                effort=effort,
                due_date=due,
                origin="generated",
                position=start + index,
            )
        )
    PlanTask.objects.bulk_create(tasks)
    through = PlanTask.controls.through
    through.objects.bulk_create(
        [
            through(plantask_id=task.pk, control_id=control_id)
            for task, (_gap, joined) in zip(tasks, planned, strict=True)
            for control_id in joined
        ]
    )
    if tasks:
        audit_record(
            organisation=organisation,
            actor=actor,
            action="plan.generated",
            summary=f"Built {len(tasks)} task{'s' if len(tasks) != 1 else ''} from the gap analysis",
        )
    return tasks


TASK_FIELDS = {"title", "description", "owner", "due_date", "priority", "effort", "status"}


@transaction.atomic
def task_update(*, task: PlanTask, values: dict[str, Any], actor: Actor) -> PlanTask:
    unknown = set(values) - TASK_FIELDS
    if unknown:
        raise ValueError(f"Not task fields: {sorted(unknown)}")
    changed = [name for name, value in values.items() if getattr(task, name) != value]
    if not changed:
        return task
    was_done = task.status == TaskStatus.DONE
    for name, value in values.items():
        setattr(task, name, value)
    if task.status == TaskStatus.DONE and not was_done:
        task.completed_at = timezone.now()
    elif task.status != TaskStatus.DONE:
        task.completed_at = None
    task.full_clean()
    task.save()
    summary = f"Updated the task “{task.title}”: {', '.join(changed)}"
    if "status" in changed:
        summary = f"Moved the task “{task.title}” to {task.get_status_display()}"
    audit_record(organisation=task.organisation, actor=actor, action="task.updated", summary=summary[:500], target=task)
    return task


@transaction.atomic
def task_create(
    *,
    organisation: Organisation,
    title: str,
    actor: Actor,
    description: str = "",
    owner: User | None = None,
    due_date: date | None = None,
    priority: int = Priority.MEDIUM,
    effort: str = Effort.MEDIUM,
    controls: list[Control] | None = None,
) -> PlanTask:
    task = PlanTask(
        organisation=organisation,
        title=title.strip(),
        description=description.strip(),
        owner=owner,
        due_date=due_date,
        priority=priority,
        effort=effort,
        origin="manual",
        position=PlanTask.objects.filter(organisation=organisation).count(),
    )
    task.full_clean()
    task.save()
    if controls:
        task.controls.set(controls)
    audit_record(
        organisation=organisation,
        actor=actor,
        action="task.created",
        summary=f"Added the task “{task.title}”",
        target=task,
    )
    return task
