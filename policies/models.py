"""Policies tailored to the business: a policy, its versions, reviews, staff acknowledgements and
the background job that drafts it. Every model here is tenant data."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.tenancy import TenantModel


class PolicyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class SectionOrigin(models.TextChoices):
    TEMPLATE = "template", "From the template"
    MODEL = "model", "Written by the assistant"
    PERSON = "person", "Edited by a person"


class Policy(TenantModel):
    """One policy of the organisation. Its text lives in versions; the latest version is worked on."""

    template_key = models.CharField(max_length=60, blank=True, help_text="The template it was drafted from.")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_date = models.DateField(null=True, blank=True)
    # The library controls the policy satisfies; a published policy counts towards them.
    controls = models.ManyToManyField("compliance.Control", related_name="+", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "template_key"],
                condition=~models.Q(template_key=""),
                name="policy_one_per_template",
            ),
            models.CheckConstraint(condition=models.Q(status__in=PolicyStatus.values), name="policy_status_valid"),
        ]
        indexes = [models.Index(fields=["organisation", "status"], name="policy_org_status")]

    def __str__(self) -> str:
        return self.title

    @property
    def review_due(self) -> bool:
        return self.review_date is not None and self.review_date <= date.today()


class PolicyVersion(TenantModel):
    """A numbered text of a policy. Once published it never changes: edits make a new version."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    # [{"key", "title", "body" (Markdown), "origin" (SectionOrigin), "provider"}], in order.
    sections = models.JSONField(default=list)
    # Bumped on every save of a draft, so a stale editor's save is refused instead of lost.
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="policy_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def markdown(self) -> str:
        parts = [f"# {self.title}"]
        for section in self.sections:
            parts.append(f"## {section['title']}\n\n{section['body'].strip()}")
        return "\n\n".join(parts) + "\n"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Sent back for changes"


class PolicyReview(TenantModel):
    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decision = models.CharField(max_length=20, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]


class PolicyAcknowledgement(TenantModel):
    """A member confirming they have read a published version."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="acknowledgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "user"], name="acknowledgement_once_per_version")]


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Drafting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class GenerationJob(TenantModel):
    """Drafting a policy in the background, with progress a page can poll."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Deliveries of the task that claimed the job; a later write checks it is still its attempt's.
    attempts = models.PositiveIntegerField(default=0)
    # The version this job wrote: one at most, so a task delivered again never writes a second.
    version = models.OneToOneField(
        PolicyVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="drafted_by"
    )

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)
