"""Every write of the policy studio: drafting jobs, edits, the review workflow and acknowledgements.

A policy moves draft -> in review -> approved -> published -> retired. Its text lives in numbered
versions: the latest is the one worked on, and a published version never changes again (editing a
published policy starts a new draft version). Every function checks the actor's role as well as the
view, and records an audit event.
"""

from __future__ import annotations

import calendar
import copy
import logging
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import Organisation
from accounts.roles import Capability
from accounts.webhooks import api_url, webhook_emit
from chat.ai.errors import AIError
from compliance.models import Control
from config.queueing import enqueue_on_commit
from config.task_claims import ClaimHeld, job_lock, takeover_wait
from policies.drafting import DraftCancelled, draft_sections
from policies.library import DEFAULT_REVIEW_MONTHS, PolicyTemplate, get_template
from policies.models import (
    GenerationJob,
    JobStatus,
    Policy,
    PolicyAcknowledgement,
    PolicyReview,
    PolicyStatus,
    PolicyVersion,
    ReviewDecision,
    SectionOrigin,
)
from policies.reminders import policy_awaiting_approval_notify
from policies.tailoring import long_date, policy_context_for

logger = logging.getLogger(__name__)

# The most text one version may hold, so an editor, a PDF and a diff all stay quick.
MAX_VERSION_BYTES = 200 * 1024
# A job not finished after this long is taken to be lost (a worker died) and no longer blocks a new one.
JOB_STALE_AFTER = timedelta(minutes=10)
ACTIVE_JOB = (JobStatus.QUEUED, JobStatus.RUNNING)


class StaleVersion(ValidationError):
    """The draft changed since the editor loaded it."""


def _require(organisation: Organisation, actor: Actor, capability: Capability) -> None:
    require_actor(organisation, actor, capability, what="policies")


def _audit(policy: Policy, actor: Actor, action: str, summary: str, target: Any = None) -> None:
    audit_record(organisation=policy.organisation, actor=actor, action=action, summary=summary, target=target or policy)


def _touch(policy: Policy, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.full_clean()
    policy.save(update_fields=[*fields, "updated_at"])


def latest_version(policy: Policy) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(policy=policy).order_by("-number").first()


def published_version(policy: Policy) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(policy=policy, published_at__isnull=False).order_by("-number").first()


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _resolve_controls(template: PolicyTemplate) -> list[Control]:
    wanted = set(template.control_keys)
    candidates = Control.objects.live().filter(
        framework__slug__in={slug for slug, _ in wanted}, ref__in={ref for _, ref in wanted}
    )
    return [
        control for control in candidates.select_related("framework") if (control.framework.slug, control.ref) in wanted
    ]


# --- Drafting ----------------------------------------------------------------------------------------
def policy_draft_start(*, organisation: Organisation, template_key: str, actor: Actor) -> GenerationJob:
    """Start drafting a policy from a template: the policy is created the first time, and a background
    job writes a new draft version. A second click while a job runs returns that job."""
    _require(organisation, actor, Capability.EDIT)
    template = get_template(template_key)
    if template is None:
        raise ValidationError("There is no policy template by that name.")
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(organisation=organisation, template_key=template.key).first()
        if policy is None:
            now = timezone.now()
            policy = Policy(
                organisation=organisation,
                template_key=template.key,
                title=template.title,
                owner=actor.user,
                created_at=now,
                updated_at=now,
            )
            policy.full_clean()
            policy.save()
            policy.controls.set(_resolve_controls(template))
        if policy.status in (PolicyStatus.IN_REVIEW, PolicyStatus.APPROVED):
            raise ValidationError(
                f"“{policy.title}” is {policy.get_status_display().lower()}: it can be redrafted only as a draft, "
                "after it is sent back or published."
            )
        active = policy.jobs.filter(status__in=ACTIVE_JOB, created_at__gte=timezone.now() - JOB_STALE_AFTER).first()
        if active is not None:
            return active
        job = GenerationJob(
            organisation=organisation,
            policy=policy,
            requested_by=actor.user,
            status=JobStatus.QUEUED,
            message="Waiting to start",
        )
        job.full_clean()
        job.save()
        _audit(policy, actor, "policy.draft_started", f"Started drafting “{policy.title}” from the template", job)
        from policies.tasks import draft_policy

        enqueue_on_commit(draft_policy, job.pk)
    return job


def _claim_job(job_id: int, held: bool | None) -> GenerationJob | None:
    """Mark the job running as this delivery's attempt. A job left running by a worker that died is taken
    over (see config.task_claims); one a live worker has raises ClaimHeld; a finished one gives None."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id, status__in=ACTIVE_JOB).first()
        if job is None:
            return None  # cancelled, finished, or deleted
        if held is False:
            raise ClaimHeld(takeover_wait(held, job.started_at, JOB_STALE_AFTER))
        if job.status == JobStatus.RUNNING and (wait := takeover_wait(held, job.started_at, JOB_STALE_AFTER)):
            raise ClaimHeld(wait)
        job.status, job.started_at, job.attempts = JobStatus.RUNNING, timezone.now(), job.attempts + 1
        job.progress, job.message = 0, "Reading your business profile"
        job.save(update_fields=["status", "started_at", "attempts", "progress", "message"])
    return GenerationJob.objects.select_related("policy__organisation", "requested_by").get(pk=job_id)


def policy_draft_run(*, job_id: int) -> GenerationJob | None:
    """The background job's work: tailor, rewrite, then write a new draft version in one go. Progress
    is saved section by section; a cancel is noticed between sections; on failure nothing is written,
    so any earlier draft stays as it was. Safe to deliver again: a job killed part-way is drafted afresh,
    a finished one is left alone, and the job writes one version at most (its `version` link)."""
    with job_lock("policies.generationjob", job_id) as held:
        job = _claim_job(job_id, held)
        if job is None:
            return GenerationJob.objects.filter(pk=job_id).first()
        return _draft(job)


def _draft(job: GenerationJob) -> GenerationJob:
    job_id, attempt = job.pk, job.attempts
    mine = GenerationJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)
    policy = job.policy
    actor = Actor(user=job.requested_by)
    template = get_template(policy.template_key)
    if template is None:
        return _job_fail(job, actor, f"The template “{policy.template_key}” is no longer in the library.")

    def on_section(number: int, total: int, section: dict[str, Any]) -> None:
        mine.update(
            progress=(number - 1) * 100 // total,
            message=f"Drafting section {number} of {total}: {section['title']}"[:300],
        )

    def should_stop() -> bool:
        return GenerationJob.objects.filter(pk=job_id, status=JobStatus.CANCELLED).exists()

    try:
        context = policy_context_for(policy.organisation)
        sections = draft_sections(
            organisation=policy.organisation,
            template=template,
            context=context,
            on_section=on_section,
            should_stop=should_stop,
        )
    except DraftCancelled:
        job.refresh_from_db()
        return job
    except AIError as error:
        return _job_fail(job, actor, f"{error} Any earlier draft is unchanged.")
    except Exception:
        logger.exception("Drafting policy %s failed (job %s).", policy.pk, job_id)
        return _job_fail(job, actor, "Something went wrong while drafting. Any earlier draft is unchanged.")

    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job_id)
        # Cancelled meanwhile, or taken over by a later delivery (which writes the version instead).
        if job.status != JobStatus.RUNNING or job.attempts != attempt or job.version_id is not None:
            return job
        policy = Policy.objects.select_for_update().get(pk=policy.pk)
        if policy.status in (PolicyStatus.IN_REVIEW, PolicyStatus.APPROVED):
            return _job_fail(
                job, actor, "The policy was sent for review while it was being drafted, so the new draft was not saved."
            )
        number = (PolicyVersion.objects.filter(policy=policy).aggregate(top=Max("number"))["top"] or 0) + 1
        now = timezone.now()
        version = PolicyVersion(
            organisation=policy.organisation,
            policy=policy,
            number=number,
            title=template.title,
            sections=sections,
            created_by=job.requested_by,
            created_at=now,
            updated_at=now,
        )
        version.full_clean()
        version.save()
        _touch(policy, status=PolicyStatus.DRAFT, title=template.title)
        job.status, job.progress, job.finished_at, job.version = JobStatus.DONE, 100, now, version
        job.message = f"Draft ready: version {number}, {len(sections)} sections"
        job.save(update_fields=["status", "progress", "finished_at", "message", "version"])
        _audit(policy, actor, "policy.drafted", f"Drafted version {number} of “{policy.title}”", version)
    return job


def _job_fail(job: GenerationJob, actor: Actor, error: str) -> GenerationJob:
    # Only this attempt's own running job: never a cancelled one, nor one a later delivery took over.
    GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=JobStatus.FAILED, error=error, message="Drafting failed", finished_at=timezone.now()
    )
    job.refresh_from_db()
    if job.status == JobStatus.FAILED:
        _audit(job.policy, actor, "policy.draft_failed", f"Drafting “{job.policy.title}” failed: {error}", job)
    return job


def policy_draft_cancel(*, job: GenerationJob, actor: Actor) -> GenerationJob:
    _require(job.organisation, actor, Capability.EDIT)
    cancelled = GenerationJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB).update(
        status=JobStatus.CANCELLED, message="Cancelled", finished_at=timezone.now()
    )
    job.refresh_from_db()
    if not cancelled:
        raise ValidationError("That drafting job has already finished.")
    _audit(job.policy, actor, "policy.draft_cancelled", f"Cancelled drafting “{job.policy.title}”", job)
    return job


# --- Editing -----------------------------------------------------------------------------------------
def _clean_body(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()


def version_save(*, version: PolicyVersion, bodies: dict[str, str], revision: int, actor: Actor) -> PolicyVersion:
    """Save a person's Markdown edits to the draft. Refuses a save made from a stale copy (someone saved
    since, or a newer version exists) rather than overwrite; the caller keeps the person's text."""
    _require(version.organisation, actor, Capability.EDIT)
    size = sum(len(_clean_body(text).encode()) for text in bodies.values())
    if size > MAX_VERSION_BYTES:
        raise ValidationError(
            f"This policy is too long to save ({size // 1024} KB; the limit is {MAX_VERSION_BYTES // 1024} KB). "
            "Shorten it or split it into two policies."
        )
    with transaction.atomic():
        current = PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)
        policy = current.policy
        if current.is_published:
            raise ValidationError("A published version never changes. Start a new version to edit this policy.")
        latest = PolicyVersion.objects.filter(policy=policy).aggregate(top=Max("number"))["top"]
        if latest != current.number:
            raise StaleVersion(
                f"A newer version (version {latest}) was written while you were editing, so this save was refused. "
                "Your text is still below: copy what you need, then open the newest version."
            )
        if policy.status != PolicyStatus.DRAFT:
            raise ValidationError(
                f"This policy is {policy.get_status_display().lower()}, so its text cannot change now. "
                "Your text is still below."
            )
        if current.revision != revision:
            raise StaleVersion(
                "Someone else saved this draft while you were editing, so your save was refused to keep both "
                "versions of the text. Your text is still below: copy what you need, reload, and apply it again."
            )
        changed: list[str] = []
        sections = copy.deepcopy(current.sections)
        for section in sections:
            if section["key"] not in bodies:
                continue
            body = _clean_body(bodies[section["key"]])
            if body != section["body"].strip():
                section.update(body=body, origin=SectionOrigin.PERSON.value, provider="")
                changed.append(section["title"])
        if not changed:
            return current
        current.sections = sections
        current.revision += 1
        current.updated_at = timezone.now()
        current.full_clean()
        current.save(update_fields=["sections", "revision", "updated_at"])
        _touch(policy)
        _audit(
            policy,
            actor,
            "policy.edited",
            f"Edited version {current.number} of “{policy.title}”: {', '.join(changed)}",
            current,
        )
    return current


# --- Workflow ----------------------------------------------------------------------------------------
def _expect(policy: Policy, *statuses: str, doing: str) -> None:
    if policy.status not in statuses:
        raise ValidationError(f"“{policy.title}” is {policy.get_status_display().lower()}, so it cannot be {doing}.")


@transaction.atomic
def policy_submit(*, policy: Policy, actor: Actor) -> Policy:
    _require(policy.organisation, actor, Capability.EDIT)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    _expect(policy, PolicyStatus.DRAFT, doing="sent for review")
    version = latest_version(policy)
    if version is None:
        raise ValidationError("There is no draft to review yet.")
    if policy.jobs.filter(status__in=ACTIVE_JOB, created_at__gte=timezone.now() - JOB_STALE_AFTER).exists():
        raise ValidationError("Wait for the draft to finish before sending it for review.")
    _touch(policy, status=PolicyStatus.IN_REVIEW)
    _audit(policy, actor, "policy.submitted", f"Sent version {version.number} of “{policy.title}” for review", version)
    policy_awaiting_approval_notify(policy=policy, version=version, actor=actor)
    return policy


@transaction.atomic
def policy_review(*, policy: Policy, actor: Actor, approve: bool, comment: str = "") -> PolicyReview:
    """Approve the version in review, or send it back with a comment saying what to change."""
    _require(policy.organisation, actor, Capability.APPROVE)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    _expect(policy, PolicyStatus.IN_REVIEW, doing="reviewed")
    comment = comment.strip()
    if not approve and not comment:
        raise ValidationError("Say what needs to change before sending the policy back.")
    version = latest_version(policy)
    assert version is not None  # a policy in review always has a version
    now = timezone.now()
    review = PolicyReview(
        organisation=policy.organisation,
        version=version,
        reviewer=actor.user,
        decision=ReviewDecision.APPROVED if approve else ReviewDecision.CHANGES_REQUESTED,
        comment=comment,
        created_at=now,
    )
    review.full_clean()
    review.save()
    if approve:
        version.approved_by, version.approved_at, version.approval_comment = actor.user, now, comment
        version.save(update_fields=["approved_by", "approved_at", "approval_comment"])
        _touch(policy, status=PolicyStatus.APPROVED)
        summary = f"Approved version {version.number} of “{policy.title}”"
    else:
        _touch(policy, status=PolicyStatus.DRAFT)
        summary = f"Sent version {version.number} of “{policy.title}” back for changes"
    _audit(policy, actor, f"policy.{review.decision}", f"{summary}{': ' + comment if comment else ''}", version)
    return review


@transaction.atomic
def policy_publish(*, policy: Policy, actor: Actor, today: date | None = None) -> PolicyVersion:
    """Publish the approved version: from now on it never changes, and the policy is due for review
    after the template's review period (a year unless the template says otherwise)."""
    _require(policy.organisation, actor, Capability.APPROVE)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    _expect(policy, PolicyStatus.APPROVED, doing="published")
    version = latest_version(policy)
    assert version is not None
    today = today or timezone.localdate()
    effective = long_date(today)
    sections = copy.deepcopy(version.sections)
    for section in sections:
        drafted_on = section.get("effective_date")
        if drafted_on and drafted_on != effective:
            section["body"] = section["body"].replace(drafted_on, effective)
            section["effective_date"] = effective
    version.sections = sections
    version.published_at = timezone.now()
    version.save(update_fields=["sections", "published_at"])
    template = get_template(policy.template_key)
    months = template.review_months if template else DEFAULT_REVIEW_MONTHS
    _touch(policy, status=PolicyStatus.PUBLISHED, review_date=add_months(today, months))
    _audit(policy, actor, "policy.published", f"Published version {version.number} of “{policy.title}”", version)
    # Webhook subscribers hear of it once this commits (accounts.webhooks: recorded here, sent by a worker).
    webhook_emit(
        organisation=policy.organisation,
        event="policy.published",
        data={
            "policy": {
                "id": policy.pk,
                "title": policy.title,
                "version": version.number,
                "published_at": version.published_at,
                "url": api_url(policy.organisation, f"policies/{policy.pk}/"),
            }
        },
    )
    return version


@transaction.atomic
def policy_retire(*, policy: Policy, actor: Actor) -> Policy:
    _require(policy.organisation, actor, Capability.APPROVE)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    _expect(
        policy,
        PolicyStatus.DRAFT,
        PolicyStatus.IN_REVIEW,
        PolicyStatus.APPROVED,
        PolicyStatus.PUBLISHED,
        doing="retired",
    )
    policy.jobs.filter(status__in=ACTIVE_JOB).update(
        status=JobStatus.CANCELLED, message="Cancelled: the policy was retired", finished_at=timezone.now()
    )
    _touch(policy, status=PolicyStatus.RETIRED, review_date=None)
    _audit(policy, actor, "policy.retired", f"Retired “{policy.title}”")
    return policy


@transaction.atomic
def policy_new_version(*, policy: Policy, actor: Actor) -> PolicyVersion:
    """Editing a published (or retired) policy starts a new draft version from its latest text."""
    _require(policy.organisation, actor, Capability.EDIT)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    _expect(policy, PolicyStatus.PUBLISHED, PolicyStatus.RETIRED, doing="given a new version")
    previous = latest_version(policy)
    if previous is None:
        raise ValidationError("There is no version to start from.")
    now = timezone.now()
    version = PolicyVersion(
        organisation=policy.organisation,
        policy=policy,
        number=previous.number + 1,
        title=previous.title,
        sections=copy.deepcopy(previous.sections),
        created_by=actor.user,
        created_at=now,
        updated_at=now,
    )
    version.full_clean()
    version.save()
    _touch(policy, status=PolicyStatus.DRAFT)
    _audit(policy, actor, "policy.new_version", f"Started version {version.number} of “{policy.title}”", version)
    return version


def policy_acknowledge(*, policy: Policy, actor: Actor) -> PolicyAcknowledgement:
    """A member confirms they have read the version in force. Confirming twice changes nothing."""
    _require(policy.organisation, actor, Capability.EDIT)
    version = published_version(policy) if policy.status != PolicyStatus.RETIRED else None
    if version is None:
        raise ValidationError("Only a published policy can be acknowledged.")
    with transaction.atomic():
        acknowledgement, created = PolicyAcknowledgement.objects.get_or_create(
            organisation=policy.organisation, version=version, user=actor.user
        )
        if created:
            _audit(
                policy,
                actor,
                "policy.acknowledged",
                f"Confirmed reading version {version.number} of “{policy.title}”",
                version,
            )
    return acknowledgement
