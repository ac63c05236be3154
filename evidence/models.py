"""Evidence: items (a file, a link or a written note) mapped to library controls, their file revisions,
and automated collection (connections to Google Workspace or Microsoft 365, their runs and checks).
Every model here is tenant data."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.tenancy import TenantModel
from evidence.kinds import EvidenceType


class EvidenceForm(models.TextChoices):
    FILE = "file", "File"
    LINK = "link", "Link"
    NOTE = "note", "Written note"


class EvidenceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


# Statuses that count towards readiness while the item is within its valid-until date.
COUNTING_STATUSES = (EvidenceStatus.SUBMITTED, EvidenceStatus.ACCEPTED)


class EvidenceSource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    GOOGLE_WORKSPACE = "google_workspace", "Google Workspace"
    MICROSOFT_365 = "microsoft_365", "Microsoft 365"


def evidence_upload_path(revision: EvidenceRevision, filename: str) -> str:
    # Under the organisation's own prefix (so its files can be listed and erased together) and a random
    # folder, so names never collide and cannot be guessed.
    return f"evidence/{revision.organisation_id}/{uuid.uuid4().hex}/{filename}"


class Evidence(TenantModel):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    form = models.CharField(max_length=10, choices=EvidenceForm.choices)
    evidence_type = models.CharField(max_length=20, choices=EvidenceType.choices, default=EvidenceType.OTHER)
    status = models.CharField(max_length=20, choices=EvidenceStatus.choices, default=EvidenceStatus.DRAFT)
    source = models.CharField(max_length=20, choices=EvidenceSource.choices, default=EvidenceSource.MANUAL)
    # A connector finding's stable key: its next runs update this item instead of adding another.
    source_key = models.CharField(max_length=120, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    collected_on = models.DateField(default=date.today)
    valid_until = models.DateField(null=True, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    # sha256 of the normalised URL: equal links are found with an index, however long they are.
    url_key = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    controls = models.ManyToManyField("compliance.Control", related_name="+", blank=True)
    # The current file (the latest revision), denormalised for the register and duplicate lookups.
    current_revision = models.ForeignKey(
        "evidence.EvidenceRevision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sha256 = models.CharField(max_length=64, blank=True)
    # Text of the current file (or the note), for near-duplicate detection and the assistant's search.
    extracted_text = models.TextField(blank=True)
    simhash = models.BigIntegerField(null=True, blank=True)
    # The SimHash cut into eight 8-bit bands (evidence.fingerprints), each indexed: an item within the
    # near-duplicate distance shares at least one band, so candidates are found without a full scan.
    simhash_band0 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band1 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band2 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band3 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band4 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band5 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band6 = models.PositiveSmallIntegerField(null=True, blank=True)
    simhash_band7 = models.PositiveSmallIntegerField(null=True, blank=True)
    signed = models.BooleanField(default=False)
    # Computed by evidence.quality and stored so the register can sort by it; refreshed daily.
    quality = models.PositiveSmallIntegerField(default=0)
    reviewer_comment = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The valid-until date the owner was last reminded about, so each expiry is announced once.
    reminded_for = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-collected_on", "-pk"]
        verbose_name_plural = "evidence"
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=EvidenceStatus.values), name="evidence_status_valid"),
            models.CheckConstraint(condition=models.Q(form__in=EvidenceForm.values), name="evidence_form_valid"),
            models.UniqueConstraint(
                fields=["organisation", "source_key"], condition=~models.Q(source_key=""), name="evidence_source_once"
            ),
        ]
        indexes = [
            # Status then date: the register's counts and readiness's "current evidence" read only this.
            models.Index(fields=["organisation", "status", "valid_until"], name="evidence_org_status_valid"),
            models.Index(fields=["organisation", "valid_until"], name="evidence_org_valid_until"),
            models.Index(fields=["organisation", "-collected_on", "-id"], name="evidence_org_collected"),
            models.Index(fields=["organisation", "sha256"], name="evidence_org_sha256"),
            models.Index(fields=["organisation", "url_key"], name="evidence_org_url"),
            models.Index(fields=["organisation", "simhash_band0"], name="evidence_org_band0"),
            models.Index(fields=["organisation", "simhash_band1"], name="evidence_org_band1"),
            models.Index(fields=["organisation", "simhash_band2"], name="evidence_org_band2"),
            models.Index(fields=["organisation", "simhash_band3"], name="evidence_org_band3"),
            models.Index(fields=["organisation", "simhash_band4"], name="evidence_org_band4"),
            models.Index(fields=["organisation", "simhash_band5"], name="evidence_org_band5"),
            models.Index(fields=["organisation", "simhash_band6"], name="evidence_org_band6"),
            models.Index(fields=["organisation", "simhash_band7"], name="evidence_org_band7"),
        ]

    def __str__(self) -> str:
        return self.title

    def is_current(self, today: date | None = None) -> bool:
        """Counts towards readiness: submitted or accepted, and not past its valid-until date."""
        today = today or date.today()
        return self.status in COUNTING_STATUSES and (self.valid_until is None or self.valid_until >= today)

    def days_left(self, today: date | None = None) -> int | None:
        if self.valid_until is None:
            return None
        return (self.valid_until - (today or date.today())).days


class EvidenceRevision(TenantModel):
    """One stored file of an evidence item. A new upload adds a revision; older ones stay downloadable."""

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to=evidence_upload_path, max_length=500)
    original_name = models.CharField(max_length=255)
    file_kind = models.CharField(max_length=10)  # evidence.intake kind: "pdf", "png", ...
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    flags = models.JSONField(default=list, blank=True)  # e.g. ["pdf_active_content"]
    signed = models.BooleanField(default=False)
    collected_on = models.DateField(default=date.today)
    comment = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["evidence", "-number"]
        constraints = [models.UniqueConstraint(fields=["evidence", "number"], name="evidence_revision_number_unique")]

    def __str__(self) -> str:
        return f"{self.original_name} (revision {self.number})"


# --- Automated collection --------------------------------------------------------------------------
class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NEEDS_RECONNECT = "needs_reconnect", "Needs connecting again"
    DISCONNECTED = "disconnected", "Disconnected"


class Provider(models.TextChoices):
    GOOGLE_WORKSPACE = "google_workspace", "Google Workspace"
    MICROSOFT_365 = "microsoft_365", "Microsoft 365"


class Connection(TenantModel):
    provider = models.CharField(max_length=20, choices=Provider.choices)
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED)
    account_label = models.CharField(max_length=200, blank=True)  # the domain or tenant that was connected
    # The provider's tokens, Fernet-encrypted with settings.CONNECTOR_TOKEN_KEYS (evidence/tokens.py).
    encrypted_tokens = models.TextField(blank=True)
    scopes = models.JSONField(default=list, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    connected_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "provider"], name="connection_one_per_provider"),
            models.CheckConstraint(condition=models.Q(provider__in=Provider.values), name="connection_provider_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.account_label or 'not connected'})"

    @property
    def is_active(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED and bool(self.encrypted_tokens)


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Collecting"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Succeeded with warnings"
    FAILED = "failed", "Failed"


class CollectionRun(TenantModel):
    """One day's collection for a connection. A second run the same day reuses this row, so evidence
    and checks are updated rather than duplicated, and a retried task after a worker died just resumes."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    run_on = models.DateField(default=date.today)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log = models.JSONField(default=list, blank=True)  # [{"at", "level", "message"}]
    error = models.TextField(blank=True)
    findings = models.PositiveIntegerField(default=0)
    checks_passed = models.PositiveIntegerField(default=0)
    checks_failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-run_on", "-pk"]
        constraints = [models.UniqueConstraint(fields=["connection", "run_on"], name="collection_run_once_a_day")]

    def __str__(self) -> str:
        return f"{self.connection} on {self.run_on:%d %B %Y}"

    @property
    def is_active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)


class CheckResult(TenantModel):
    """A pass/fail check a run made, on the controls it maps to."""

    run = models.ForeignKey(CollectionRun, on_delete=models.CASCADE, related_name="checks")
    key = models.CharField(max_length=120)
    title = models.CharField(max_length=200)
    passed = models.BooleanField()
    summary = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    evidence = models.ForeignKey(Evidence, on_delete=models.SET_NULL, null=True, blank=True, related_name="checks")
    controls = models.ManyToManyField("compliance.Control", related_name="+", blank=True)

    class Meta:
        ordering = ["passed", "title"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="check_once_per_run")]

    def __str__(self) -> str:
        return f"{self.title}: {'passed' if self.passed else 'failed'}"
