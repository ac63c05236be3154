"""The SMB journey's data: business profile, adopted frameworks, assessment rounds and answers,
readiness snapshots and the implementation plan. Every model here is tenant data."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.tenancy import TenantModel


# --- Business profile -----------------------------------------------------------------------------
class SicSection(models.TextChoices):
    A = "A", "Agriculture, forestry and fishing"
    B = "B", "Mining and quarrying"
    C = "C", "Manufacturing"
    D = "D", "Electricity, gas, steam and air conditioning supply"
    E = "E", "Water supply, sewerage and waste management"
    F = "F", "Construction"
    G = "G", "Wholesale and retail trade; repair of motor vehicles"
    H = "H", "Transportation and storage"
    I = "I", "Accommodation and food service activities"  # noqa: E741 - the SIC section letter
    J = "J", "Information and communication"
    K = "K", "Financial and insurance activities"
    L = "L", "Real estate activities"
    M = "M", "Professional, scientific and technical activities"
    N = "N", "Administrative and support service activities"
    O = "O", "Public administration and defence"  # noqa: E741
    P = "P", "Education"
    Q = "Q", "Human health and social work activities"
    R = "R", "Arts, entertainment and recreation"
    S = "S", "Other service activities"
    T = "T", "Activities of households as employers"
    U = "U", "Activities of extraterritorial organisations"


class EmployeesBand(models.TextChoices):
    SOLO = "1", "Just me"
    MICRO = "2-9", "2 to 9"
    SMALL = "10-49", "10 to 49"
    MEDIUM = "50-249", "50 to 249"
    LARGE = "250+", "250 or more"


class TurnoverBand(models.TextChoices):
    UNDER_100K = "under-100k", "Under £100,000"
    UNDER_1M = "100k-1m", "£100,000 to £1 million"
    UNDER_10M = "1m-10m", "£1 million to £10 million"
    UNDER_50M = "10m-50m", "£10 million to £50 million"
    OVER_50M = "50m+", "Over £50 million"


class Region(models.TextChoices):
    UK = "uk", "United Kingdom"
    EU = "eu", "European Union"
    US = "us", "United States"
    ELSEWHERE = "elsewhere", "Elsewhere"


class CardHandling(models.TextChoices):
    """How card payments are taken, which decides the PCI DSS self-assessment questionnaire."""

    NONE = "none", "We do not take card payments"
    HOSTED = "hosted", "Online, through a payment page or iframe hosted by our payment provider"
    DIRECT_POST = "direct-post", "Online, with our own checkout page posting to the payment provider"
    TERMINALS = "terminals", "In person, on card terminals from our payment provider"
    VIRTUAL_TERMINAL = "virtual-terminal", "By phone, typed into our provider's virtual terminal"
    STORED = "stored", "We store, process or transmit card numbers on our own systems"


class ProductivitySuite(models.TextChoices):
    MICROSOFT = "microsoft-365", "Microsoft 365"
    GOOGLE = "google-workspace", "Google Workspace"
    BOTH = "both", "Both"
    NEITHER = "neither", "Neither"


class Goal(models.TextChoices):
    WIN_WORK = "win-work", "Win a contract or tender that asks for it"
    CUSTOMER_ASKED = "customer-asked", "A customer has asked us"
    INSURANCE = "insurance", "Cyber insurance or lower premiums"
    GET_ORGANISED = "get-organised", "Get our house in order"
    INTERNATIONAL = "international", "Meet an internationally recognised standard"


class BusinessProfile(TenantModel):
    """What the business told us about itself; the facts behind recommendations and applicability."""

    company_name = models.CharField(max_length=200, blank=True)
    company_number = models.CharField(
        max_length=8, blank=True, help_text="Companies House number, for example 01234567 or SC123456."
    )
    sic_section = models.CharField("sector", max_length=1, choices=SicSection.choices, blank=True)
    employees_band = models.CharField(max_length=10, choices=EmployeesBand.choices, blank=True)
    turnover_band = models.CharField(max_length=12, choices=TurnoverBand.choices, blank=True)
    customer_regions = models.JSONField(default=list, blank=True)
    staff_regions = models.JSONField(default=list, blank=True)
    # Data handled
    customers_personal_data = models.BooleanField(default=False)
    employee_data = models.BooleanField(default=False)
    special_category_data = models.BooleanField(default=False)
    childrens_data = models.BooleanField(default=False)
    card_handling = models.CharField(max_length=20, choices=CardHandling.choices, default=CardHandling.NONE)
    direct_marketing = models.BooleanField(default=False)
    website = models.BooleanField(default=False)
    processor_for_customers = models.BooleanField(default=False)
    automated_decisions = models.BooleanField(default=False)
    cctv = models.BooleanField(default=False)
    # Technology
    productivity_suite = models.CharField(max_length=20, choices=ProductivitySuite.choices, blank=True)
    cloud_providers = models.JSONField(default=list, blank=True)
    own_software = models.BooleanField(default=False)
    remote_working = models.BooleanField(default=False)
    byod = models.BooleanField(default=False)
    physical_premises = models.BooleanField(default=False)
    # Customers
    sells_to_consumers = models.BooleanField(default=False)
    sells_to_businesses = models.BooleanField(default=False)
    public_sector_bids = models.BooleanField(default=False)
    customers_ask_soc2 = models.BooleanField(default=False)
    customers_ask_iso27001 = models.BooleanField(default=False)
    customers_ask_cyber_essentials = models.BooleanField(default=False)
    # Where they are heading
    existing_certifications = models.JSONField(default=list, blank=True)
    goal = models.CharField(max_length=20, choices=Goal.choices, blank=True)
    deadline = models.DateField(null=True, blank=True)
    # Wizard progress: the last step saved, and when the whole profile was first completed.
    last_step = models.CharField(max_length=20, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation"], name="profile_one_per_organisation")]

    def __str__(self) -> str:
        return f"Business profile of {self.company_name or self.organisation_id}"


# --- Frameworks adopted and controls scoped --------------------------------------------------------
class FrameworkAdoption(TenantModel):
    framework = models.ForeignKey("compliance.Framework", on_delete=models.PROTECT, related_name="+")
    target_date = models.DateField(null=True, blank=True)
    adopted_at = models.DateTimeField(default=timezone.now)
    adopted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "framework"], name="adoption_unique_framework")]
        ordering = ["framework__position"]

    def __str__(self) -> str:
        return f"{self.framework_id} adopted by {self.organisation_id}"


# --- Assessment -----------------------------------------------------------------------------------
class AssessmentRound(TenantModel):
    """A dated round of answers. One is open at a time; closed rounds keep the history."""

    name = models.CharField(max_length=120)
    started_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"], condition=models.Q(closed_at__isnull=True), name="round_one_open"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class AnswerStatus(models.TextChoices):
    IMPLEMENTED = "implemented", "Implemented"
    PARTIAL = "partial", "Partially implemented"
    NOT_IMPLEMENTED = "not_implemented", "Not implemented"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Answer(TenantModel):
    round = models.ForeignKey(AssessmentRound, on_delete=models.CASCADE, related_name="answers")
    control = models.ForeignKey("compliance.Control", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=AnswerStatus.choices)
    notes = models.TextField(blank=True)
    # Required when the status is "not applicable": the reason goes in the Statement of Applicability.
    justification = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when the answer was applied from a mapped control in combined mode.
    via_control = models.ForeignKey(
        "compliance.Control", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # Bumped on every change, so a stale form can tell that someone else answered in between.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "control"], name="answer_one_per_control_per_round"),
            models.CheckConstraint(condition=models.Q(status__in=AnswerStatus.values), name="answer_status_valid"),
            models.CheckConstraint(
                condition=~models.Q(status=AnswerStatus.NOT_APPLICABLE) | ~models.Q(justification=""),
                name="answer_not_applicable_needs_justification",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "round"], name="answer_org_round")]

    def __str__(self) -> str:
        return f"{self.control_id}: {self.status}"


# --- Readiness over time --------------------------------------------------------------------------
class ReadinessSnapshot(TenantModel):
    """Computed readiness at a moment, per adopted framework (framework empty: overall)."""

    framework = models.ForeignKey(
        "compliance.Framework", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    score = models.DecimalField(max_digits=5, decimal_places=1)
    band = models.CharField(max_length=10)
    would_fail = models.BooleanField(default=False)
    applicable = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    implemented = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["taken_at"]
        indexes = [models.Index(fields=["organisation", "framework", "taken_at"], name="snapshot_org_fw_time")]

    def __str__(self) -> str:
        return f"{self.score}% at {self.taken_at:%Y-%m-%d %H:%M}"


# --- Implementation plan --------------------------------------------------------------------------
class TaskStatus(models.TextChoices):
    TODO = "todo", "To do"
    DOING = "doing", "Doing"
    DONE = "done", "Done"


class Priority(models.IntegerChoices):
    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    MEDIUM = 3, "Medium"
    LOW = 4, "Low"


class Effort(models.TextChoices):
    SMALL = "small", "Small (hours)"
    MEDIUM = "medium", "Medium (days)"
    LARGE = "large", "Large (weeks)"


class PlanTask(TenantModel):
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    controls = models.ManyToManyField("compliance.Control", related_name="+", blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    effort = models.CharField(max_length=10, choices=Effort.choices, default=Effort.MEDIUM)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.TODO)
    # "generated" tasks come from the gap analysis; "manual" ones were added by a person.
    origin = models.CharField(max_length=10, default="manual")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "position", "due_date"]
        indexes = [models.Index(fields=["organisation", "status", "due_date"], name="task_org_status_due")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return self.status != TaskStatus.DONE and self.due_date is not None and self.due_date < timezone.localdate()


# --- Reports --------------------------------------------------------------------------------------
class ReportKind(models.TextChoices):
    READINESS = "readiness", "Readiness report"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Building"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


# A run still queued or running after this long was lost with its worker: it shows as stopped, can be
# tried again, and a redelivered task may take it over.
REPORT_STALE_AFTER = timedelta(minutes=15)


def report_upload_path(run: ReportRun, filename: str) -> str:
    # Under the organisation's own prefix and a random folder, like evidence: names never collide and
    # cannot be guessed, and an organisation's files can be listed and erased together.
    return f"reports/{run.organisation_id}/{uuid.uuid4().hex}/{filename}"


def report_build_folder(run: ReportRun) -> str:
    """Where builds of a run store their file: a folder named after the run (keyed with the secret, so it
    cannot be guessed), so a delivery after a worker died finds and deletes what the dead attempt stored."""
    return f"reports/{run.organisation_id}/run-{salted_hmac('assessments.report-run', str(run.pk)).hexdigest()[:32]}"


class ReportRun(TenantModel):
    """One request for a report, built in the background: its parameters, progress and the stored file.

    A failed run keeps its error; trying again is a new run with the same kind and parameters.
    """

    kind = models.CharField(max_length=20, choices=ReportKind.choices, default=ReportKind.READINESS)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    message = models.CharField(max_length=300, blank=True)
    # Private: served only through the access-checked download view, never from a public path.
    file = models.FileField(upload_to=report_upload_path, max_length=500, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Deliveries of the task that claimed the run; a later write checks it is still its attempt's.
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ReportStatus.values), name="report_status_valid"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="report_progress_percent"),
        ]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="report_org_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in (ReportStatus.QUEUED, ReportStatus.RUNNING) and not self.is_lost

    @property
    def is_lost(self) -> bool:
        """Queued or running for so long that its worker must have gone."""
        started = self.started_at or self.created_at
        return (
            self.status in (ReportStatus.QUEUED, ReportStatus.RUNNING) and started < timezone.now() - REPORT_STALE_AFTER
        )

    @property
    def can_retry(self) -> bool:
        return self.status == ReportStatus.FAILED or self.is_lost


# --- Report schedules -----------------------------------------------------------------------------
class ScheduleFrequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ScheduleDelivery(models.TextChoices):
    ATTACH = "attach", "Attach the PDF to the email"
    LINK = "link", "Send a link to the report in Greenlight"


# A PDF bigger than this goes as a link even when the schedule asks for an attachment: many mail
# servers refuse messages over 10 to 25 MB, and base64 adds a third.
REPORT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


class ReportSchedule(TenantModel):
    """A report built and emailed to chosen members every week or month, at an hour in settings.TIME_ZONE.

    Run by its own django-celery-beat PeriodicTask, which the schedule services keep in step with it.
    """

    kind = models.CharField(max_length=20, choices=ReportKind.choices, default=ReportKind.READINESS)
    frequency = models.CharField(max_length=10, choices=ScheduleFrequency.choices, default=ScheduleFrequency.WEEKLY)
    # Weekly: 0 (Monday) to 6 (Sunday). Monthly: 1 to 28, so every month has the day.
    day = models.PositiveSmallIntegerField(default=0)
    hour = models.PositiveSmallIntegerField(default=8)
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    delivery = models.CharField(max_length=10, choices=ScheduleDelivery.choices, default=ScheduleDelivery.ATTACH)
    paused = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_run = models.ForeignKey(ReportRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The period ("2026-W47", "2026-11") last_run belongs to and who has been emailed it: a task delivered
    # again in the same period builds nothing new and emails nobody twice.
    sent_period = models.CharField(max_length=10, blank=True)
    sent_to = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(frequency__in=ScheduleFrequency.values), name="schedule_frequency_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(delivery__in=ScheduleDelivery.values), name="schedule_delivery_valid"
            ),
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="schedule_hour_valid"),
            models.CheckConstraint(
                condition=models.Q(frequency=ScheduleFrequency.WEEKLY, day__lte=6)
                | models.Q(frequency=ScheduleFrequency.MONTHLY, day__gte=1, day__lte=28),
                name="schedule_day_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.get_frequency_display().lower()}"

    def clean(self) -> None:
        super().clean()
        if self.frequency == ScheduleFrequency.WEEKLY and not 0 <= self.day <= 6:
            raise ValidationError({"day": "Choose a day of the week."})
        if self.frequency == ScheduleFrequency.MONTHLY and not 1 <= self.day <= 28:
            raise ValidationError({"day": "Choose a day of the month from 1 to 28."})
        if not 0 <= self.hour <= 23:
            raise ValidationError({"hour": "Choose an hour from 00:00 to 23:00."})

    @property
    def beat_name(self) -> str:
        """The name of its django-celery-beat PeriodicTask, unique per schedule."""
        return f"Report schedule {self.pk}"
