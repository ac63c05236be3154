from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.tenancy import TenantModel


class AICallOutcome(models.TextChoices):
    OK = "ok", "Answered"
    INVALID_OUTPUT = "invalid_output", "Output failed the schema"
    EMPTY_OUTPUT = "empty_output", "No output (refused, blocked or cut off)"
    TIMEOUT = "timeout", "Timed out"
    RATE_LIMITED = "rate_limited", "Provider rate limit (429)"
    SERVER_ERROR = "server_error", "Provider error (5xx)"
    CLIENT_ERROR = "client_error", "Request refused (4xx)"
    CONNECTION_ERROR = "connection_error", "Could not connect"
    MALFORMED_RESPONSE = "malformed_response", "Unreadable response"
    CIRCUIT_OPEN = "circuit_open", "Skipped: circuit open"
    BUDGET_EXHAUSTED = "budget_exhausted", "Skipped: monthly token budget used"
    THROTTLED = "throttled", "Skipped: organisation's request rate limit"


class AICall(TenantModel):
    """One attempt at one provider, or one provider skipped, for one `ai_generate` request.

    Token counts are the provider's own; `cost_estimate` is approximate (see `chat/ai/pricing.py`).
    `prompt` and `response` stay empty unless `AI_STORE_PROMPTS` is on, and hold the redacted text.
    """

    request_id = models.UUIDField(default=uuid.uuid4, db_index=True, help_text="Groups the attempts of one request.")
    feature = models.CharField(max_length=60)
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=20, choices=AICallOutcome.choices)
    error = models.CharField(max_length=300, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    cost_estimate = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, help_text="Approximate, in pounds; empty if unknown."
    )
    prompt = models.TextField(blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "AI call"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "created_at"], name="aicall_org_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=AICallOutcome.values), name="aicall_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.feature} via {self.provider}: {self.outcome}"

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


# --- The assistant ---------------------------------------------------------------------------------
class Conversation(TenantModel):
    """A member's conversation with the assistant, in one organisation. Deleting it deletes its messages:
    nothing of it is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # "Ask a consultant": when the member sent it to the organisation's consultants, and when answered.
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_note = models.TextField(blank=True)
    escalation_resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "user", "-updated_at"], name="conversation_mine")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("assistant_conversation", args=[self.pk])


class MessageRole(models.TextChoices):
    USER = "user", "You"
    ASSISTANT = "assistant", "Assistant"
    CONSULTANT = "consultant", "Consultant"


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for you to confirm"
    CONFIRMED = "confirmed", "Done"
    DISMISSED = "dismissed", "Dismissed"


class Message(TenantModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=MessageRole.choices)
    content = models.TextField()
    # The question an assistant's answer (or a consultant's reply) answers. One answer per question, so
    # a reconnecting stream or a double submit never answers twice.
    reply_to = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies")
    # [{"kind", "framework", "ref", "title", "url"}], validated against the library before storing.
    citations = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=100, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    # Thumbs up (1) or down (-1) on an answer, with an optional comment.
    rating = models.SmallIntegerField(null=True, blank=True)
    feedback = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    # A request to act ("draft a breach policy") becomes a proposal the member confirms with a button:
    # {"action": "draft_policy" | "add_task", "label": ..., and the action's own keys}; see chat/proposals.py.
    proposal = models.JSONField(default=dict, blank=True)
    proposal_status = models.CharField(max_length=20, choices=ProposalStatus.choices, blank=True)
    proposal_result_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=MessageRole.values), name="message_role_valid"),
            models.UniqueConstraint(
                fields=["reply_to"], condition=models.Q(role="assistant"), name="message_one_answer_per_question"
            ),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__in=[-1, 1]), name="message_rating_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.content[:60]}"


# --- The assistant's full-text index of each organisation's documents ----------------------------
class DocumentKind(models.TextChoices):
    POLICY = "policy", "Policy"
    EVIDENCE = "evidence", "Evidence"


class DocumentIndex(TenantModel):
    """The searchable text of one evidence item or one published policy.

    Searched through chat/document_index.py. PostgreSQL adds a `search_vector`
    column and SQLite a `chat_documentindex_fts` table with triggers (migration 0004). A later
    migration that alters this table on SQLite remakes it, which drops the triggers: recreate them.
    """

    kind = models.CharField(max_length=10, choices=DocumentKind.choices)
    evidence = models.OneToOneField(
        "evidence.Evidence", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    policy = models.OneToOneField("policies.Policy", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "document index entry"
        verbose_name_plural = "document index"
        indexes = [models.Index(fields=["organisation", "kind"], name="documentindex_org_kind")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind=DocumentKind.EVIDENCE, evidence__isnull=False, policy__isnull=True)
                | models.Q(kind=DocumentKind.POLICY, policy__isnull=False, evidence__isnull=True),
                name="documentindex_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.evidence_id or self.policy_id}: {self.title}"
