""" "Ask a consultant", the consultant's side: the queue of escalated conversations, replies and resolving.

A conversation is private to its member until they escalate it; only then, and only to consultants of
that organisation (or superusers), is it visible. Every read here is scoped in SQL to those organisations.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Membership, User
from accounts.notifications import notify
from accounts.roles import Role
from chat.models import Conversation, Message, MessageRole

MAX_REPLY_CHARS = 10_000


def consultant_organisations(user: User) -> QuerySet[Membership, Any]:
    """The organisations the user consults for, as a subquery to filter by."""
    return Membership.objects.filter(user=user, role=Role.CONSULTANT).values("organisation")


def escalations_for(user: User) -> QuerySet[Conversation]:
    """Every escalated conversation the user may read, answered or not: all of them for a superuser."""
    conversations = Conversation.objects.filter(escalated_at__isnull=False)
    if not (user.is_active and user.is_authenticated):
        return conversations.none()
    if user.is_superuser:
        return conversations
    return conversations.filter(organisation__in=consultant_organisations(user))


def open_escalations(user: User) -> QuerySet[Conversation]:
    """The escalations still waiting for a consultant, oldest first."""
    return (
        escalations_for(user)
        .filter(escalation_resolved_at__isnull=True)
        .select_related("organisation", "user")
        .order_by("escalated_at", "pk")
    )


def may_consult(user: User | None, conversation: Conversation) -> bool:
    if user is None or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(
        organisation_id=conversation.organisation_id, user=user, role=Role.CONSULTANT
    ).exists()


def _check(conversation: Conversation, actor: Actor) -> None:
    if not may_consult(actor.user, conversation):
        raise PermissionDenied("Only the organisation's consultants can answer its escalations.")
    if conversation.escalated_at is None:
        raise ValidationError("This conversation was not sent to a consultant.")


def escalation_reply(*, conversation: Conversation, actor: Actor, text: str) -> Message:
    """The consultant's answer: stored in the conversation, the escalation resolved, the member told."""
    _check(conversation, actor)
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Write a reply first."})
    if len(text) > MAX_REPLY_CHARS:
        raise ValidationError({"text": f"Replies can be at most {MAX_REPLY_CHARS:,} characters."})
    question = (
        Message.objects.filter(conversation=conversation, role=MessageRole.USER).order_by("-created_at", "-pk").first()
    )
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            organisation=conversation.organisation,
            conversation=conversation,
            role=MessageRole.CONSULTANT,
            content=text,
            author=actor.user,
            reply_to=question,
            created_at=now,
        )
        conversation.escalation_resolved_at = now
        conversation.updated_at = now
        conversation.save(update_fields=["escalation_resolved_at", "updated_at"])
        audit_record(
            organisation=conversation.organisation,
            actor=actor,
            action="assistant.escalation_answered",
            summary=f"A consultant answered “{conversation.title}”",
            target=conversation,
        )
        notify(
            organisation=conversation.organisation,
            user=conversation.user,
            kind="assistant_reply",
            title=f"Your consultant replied: {conversation.title}",
            body=text,
            url=reverse("assistant_conversation", args=[conversation.pk]),
            dedupe_key=f"escalation-reply:{message.pk}",
        )
    return message


def escalation_resolve(*, conversation: Conversation, actor: Actor) -> Conversation:
    """Close an escalation handled elsewhere (on the phone, in a meeting) without a written reply."""
    _check(conversation, actor)
    with transaction.atomic():
        # Locked and read again, so two consultants resolving at once leave one audit event, not two.
        current = Conversation.objects.select_for_update().only("escalation_resolved_at").get(pk=conversation.pk)
        if current.escalation_resolved_at is not None:
            raise ValidationError("This escalation is already resolved.")
        conversation.escalation_resolved_at = timezone.now()
        conversation.save(update_fields=["escalation_resolved_at"])
        audit_record(
            organisation=conversation.organisation,
            actor=actor,
            action="assistant.escalation_resolved",
            summary=f"A consultant resolved “{conversation.title}” without a written reply",
            target=conversation,
        )
    return conversation
