from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.admin_scope import OrganisationScopedAdmin
from accounts.audit import Actor
from chat.escalations import (
    MAX_REPLY_CHARS,
    escalation_reply,
    escalation_resolve,
    escalations_for,
)
from chat.exporting import citation_links, conversation_messages, long_date_time, rating_note, speaker
from chat.models import AICall, Conversation


@admin.register(AICall)
class AICallAdmin(OrganisationScopedAdmin):
    """The record of AI calls: read-only for everyone, like the audit log; consultants see their clients'."""

    list_display = [
        "created_at",
        "organisation",
        "feature",
        "provider",
        "model",
        "outcome",
        "tokens_in",
        "tokens_out",
        "latency_ms",
        "cost_estimate",
    ]
    list_filter = ["provider", "outcome", "feature"]
    list_select_related = ["organisation"]
    search_fields = ["organisation__name", "feature", "model", "request_id"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AICall._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Your reply",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        max_length=MAX_REPLY_CHARS,
        help_text="The member is notified and sees your reply in the conversation. It resolves the escalation.",
    )


class EscalationStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("waiting", "Waiting"), ("answered", "Answered")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        if self.value() == "waiting":
            return queryset.filter(escalation_resolved_at__isnull=True)
        if self.value() == "answered":
            return queryset.filter(escalation_resolved_at__isnull=False)
        return queryset


# Everything about the escalation, read-only; the conversation itself follows, from the template.
SHOWN = ("organisation", "member", "title", "sent", "note", "state", "resolved")


@admin.register(Conversation)
class ConversationAdmin(OrganisationScopedAdmin):
    """The "Ask a consultant" queue. A conversation is private until its member escalates it, so only
    escalated ones are listed, and a consultant sees only those of organisations they consult for.
    Nothing is edited here: replies and resolving go through `chat.escalations`."""

    list_display = ["organisation", "title", "member", "escalated_at", "state"]
    list_display_links = ["title"]
    list_filter = [EscalationStateFilter]
    list_select_related = ["organisation", "user"]
    search_fields = ["title", "escalation_note", "organisation__name", "user__email", "user__full_name"]
    # Waiting ones first, oldest first; then the answered ones, latest first.
    ordering = [F("escalation_resolved_at").desc(nulls_first=True), "escalated_at"]
    fields = SHOWN
    readonly_fields = SHOWN
    change_form_template = "admin/chat/conversation/change_form.html"
    # The member's own page for the conversation is private to them: no "View on site".
    view_on_site = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        # The queue is defined once, in chat.escalations, and scoped there to the consultant's organisations;
        # the base class supplies the permissions (staff consultants view, nobody edits here).
        conversations = escalations_for(request.user).select_related("organisation", "user")  # type: ignore[arg-type]
        return conversations.order_by(*self.get_ordering(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Member", ordering="user__email")
    def member(self, conversation: Conversation) -> str:
        return conversation.user.display_name

    @admin.display(description="Sent to consultants")
    def sent(self, conversation: Conversation) -> str:
        return long_date_time(conversation.escalated_at) if conversation.escalated_at else "-"

    @admin.display(description="Member's note")
    def note(self, conversation: Conversation) -> str:
        return conversation.escalation_note or "No note"

    @admin.display(description="Resolved")
    def resolved(self, conversation: Conversation) -> str:
        return long_date_time(conversation.escalation_resolved_at) if conversation.escalation_resolved_at else "-"

    @admin.display(description="State", ordering="escalation_resolved_at")
    def state(self, conversation: Conversation) -> str:
        return "Waiting" if conversation.escalation_resolved_at is None else "Answered"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Conversation | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["transcript"] = [
                {
                    "who": speaker(message, obj),
                    "when": long_date_time(message.created_at),
                    "role": message.role,
                    "content": message.content,
                    "sources": citation_links(message.citations),
                    "rating": rating_note(message),
                    "feedback": message.feedback,
                }
                for message in conversation_messages(obj)
            ]
            context["reply_form"] = ReplyForm()
            context["waiting"] = obj.escalation_resolved_at is None
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:conversation_id>/reply/",
                require_POST(self.reply_view),
                name="chat_conversation_reply",
            ),
            path(
                "<int:conversation_id>/resolve/",
                require_POST(self.resolve_view),
                name="chat_conversation_resolve",
            ),
            *super().get_urls(),
        ]

    def reply_view(self, request: HttpRequest, conversation_id: int) -> HttpResponse:
        conversation = self.get_object_for(request, conversation_id)
        form = ReplyForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(error) for error in form["text"].errors))
        else:
            try:
                escalation_reply(
                    conversation=conversation, actor=Actor.from_request(request), text=form.cleaned_data["text"]
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, f"Your reply was sent to {conversation.user.display_name}.")
        return redirect(reverse("admin:chat_conversation_change", args=[conversation.pk]))

    def resolve_view(self, request: HttpRequest, conversation_id: int) -> HttpResponse:
        conversation = self.get_object_for(request, conversation_id)
        try:
            escalation_resolve(conversation=conversation, actor=Actor.from_request(request))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"“{conversation.title}” is marked resolved.")
        return redirect(reverse("admin:chat_conversation_change", args=[conversation.pk]))
