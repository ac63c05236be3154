from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.notification_kinds import Channel
from accounts.roles import Capability, Role, role_can
from accounts.tenancy import TenantModel, TenantQuerySet


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with their email address; there are no usernames."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin site.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_ci")]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email).lower()


def organisation_logo_path(organisation: Organisation, filename: str) -> str:
    """A random name under the organisation's own folder: names are never guessed or reused."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"organisations/{organisation.pk}/logos/{uuid.uuid4().hex}.{extension}"


class Organisation(models.Model):
    """The tenant: a business using Greenlight. Everything it holds hangs off it."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # Checked by content before it is stored (accounts.logos); served only through an access-checked view.
    logo = models.FileField(upload_to=organisation_logo_path, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Deletion is requested by an owner and carried out by the daily task once `deletion_due_at` has
    # passed; until then an owner can cancel it and nothing is lost.
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(null=True, blank=True)
    deletion_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # Retention, in days, of records that need not be kept for ever; the daily task deletes older ones.
    conversation_retention_days = models.PositiveIntegerField(default=365)
    ai_call_retention_days = models.PositiveIntegerField(default=90)
    audit_event_retention_days = models.PositiveIntegerField(default=2190)
    report_run_retention_days = models.PositiveIntegerField(default=365)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(TenantQuerySet):
    def owners(self) -> MembershipQuerySet:
        return self.filter(role=Role.OWNER)


class Membership(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()  # type: ignore[misc]  # narrows TenantModel's manager

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_unique_user_per_organisation"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation_id} as {self.role}"

    def can(self, capability: Capability) -> bool:
        return role_can(self.role, capability)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class Invitation(TenantModel):
    """An emailed offer to join an organisation; the link is signed, single-use and expires."""

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitation_role_valid"),
            models.UniqueConstraint(
                Lower("email"),
                "organisation",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @property
    def expires_at(self) -> Any:
        return self.created_at + settings.INVITATION_MAX_AGE

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "pending"


class AuditEventQuerySet(TenantQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Audit events are append-only.")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        # Refuse before Django opens its transaction, so the caller's transaction stays usable.
        raise TypeError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")


class AuditEvent(TenantModel):
    """An append-only record of a state change, written by services."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text so the record still says who acted after the account is gone.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEventQuerySet.as_manager()  # type: ignore[misc]  # narrows TenantModel's manager

    class Meta:
        indexes = [models.Index(fields=["organisation", "-created_at"], name="audit_org_recent")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")


class Notification(TenantModel):
    """Something a member should know about (evidence about to expire, a check that failed), shown in
    the app and, unless they opted out, emailed. `dedupe_key` stops the same news arriving twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)  # e.g. "evidence_expiring", "evidence_expired"
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)  # a path within Greenlight
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # How it was delivered, from the person's preference when it was sent; never "off" (those are not stored).
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.IN_APP)
    # Set when a daily digest carried it (or passed it over as already read), so no digest repeats it.
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"], condition=~models.Q(dedupe_key=""), name="notification_once"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=[Channel.IN_APP, Channel.EMAIL, Channel.DIGEST]),
                name="notification_channel_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "organisation", "read_at"], name="notification_unread"),
            # The digest run looks only for what is waiting to go out.
            models.Index(
                fields=["user"],
                condition=models.Q(channel=Channel.DIGEST, digested_at__isnull=True),
                name="notification_digest_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How one person wants one kind of notification delivered, in every organisation they belong to.
    No row means the kind's default from accounts.notification_kinds."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_one_per_kind"),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="notification_preference_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.channel}"


# --- The partner API: partners, the access organisations grant them, keys, webhooks ----------------


class Partner(models.Model):
    """A managed service provider, accountant or consultancy registered by Greenlight staff. Its API keys
    reach every organisation that granted it access, within the scopes that organisation chose."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    contact_email = models.EmailField(blank=True)
    website = models.URLField(blank=True)
    is_active = models.BooleanField(default=True, help_text="An inactive partner's keys stop working everywhere.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerGrantQuerySet(TenantQuerySet):
    def active(self) -> PartnerGrantQuerySet:
        return self.filter(revoked_at__isnull=True, partner__is_active=True)


class PartnerGrant(TenantModel):
    """An organisation's permission for a partner to use the API on its behalf, within `scopes`."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="grants")
    scopes = models.JSONField(default=list)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PartnerGrantQuerySet.as_manager()  # type: ignore[misc]  # narrows TenantModel's manager

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "partner"],
                condition=models.Q(revoked_at__isnull=True),
                name="partner_grant_one_active",
            )
        ]
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"{self.partner_id} in {self.organisation_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A secret for the API. It belongs either to one organisation (its own scripts) or to a partner
    (every organisation that granted the partner access). Only a hash of the secret is stored; the
    prefix is kept in clear so people can tell their keys apart and find one in their logs."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The key this one replaced; the old one keeps working until its (shortened) expiry.
    rotated_from = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="rotated_to"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(organisation__isnull=False, partner__isnull=True)
                | models.Q(organisation__isnull=True, partner__isnull=False),
                name="api_key_one_holder",
            )
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and timezone.now() >= self.expires_at

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "active"


class WebhookEndpoint(TenantModel):
    """A URL that receives signed event notifications for one organisation. A partner's subscription
    records the partner, so it stops when the organisation revokes the partner's access."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    # Fernet-encrypted signing secret (config.encryption); shown once when the endpoint is created.
    secret_encrypted = models.TextField()
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


class WebhookDelivery(TenantModel):
    """One event sent (or being sent) to one endpoint, with what the receiver answered."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    event = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # the first 2,000 characters
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set for news that must reach an endpoint once only (a task found overdue): a second emit is skipped.
    dedupe_key = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="webhook_delivery_status"
            ),
            models.UniqueConstraint(
                fields=["endpoint", "dedupe_key"], condition=~models.Q(dedupe_key=""), name="webhook_delivery_once"
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent"),
            # The sweep looks only for deliveries still waiting for an attempt.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
                name="webhook_delivery_due",
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id}: {self.status}"


class IdempotencyRecord(TenantModel):
    """A POST made with an `Idempotency-Key` header and the response it got, so a retried request
    returns the same response instead of doing the work twice. Kept for a day."""

    principal = models.CharField(max_length=40)  # "key:<id>" or "user:<id>"
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "principal", "key"], name="idempotency_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


def data_export_path(export: DataExport, filename: str) -> str:
    """Under the organisation's own folder with a random part, so names are never guessed."""
    return f"organisations/{export.organisation_id}/exports/{uuid.uuid4().hex}/{filename}"


class DataExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Being built"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class DataExport(TenantModel):
    """An owner's export of everything the organisation holds: a ZIP built in the background.

    The file is private (served only through the access-checked download view) and is deleted when
    `expires_at` passes; the row stays as a record that the export happened.
    """

    status = models.CharField(max_length=10, choices=DataExportStatus.choices, default=DataExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    message = models.CharField(max_length=300, blank=True)
    file = models.FileField(upload_to=data_export_path, max_length=500, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DataExportStatus.values), name="data_export_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="data_export_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"Export of {self.created_at:%Y-%m-%d %H:%M}"
