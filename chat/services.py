"""Every write of the assistant: conversations, questions and their answers, feedback and escalation.

An answer comes from `chat.answering.answer_question` (retrieval, then the AI gateway with the offline
composer as its last resort); its citations are validated there, before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.access import require_actor
from accounts.audit import Actor, audit_record
from accounts.models import Membership, Organisation
from accounts.roles import Capability, Role
from chat.models import Conversation, Message, MessageRole, ProposalStatus
from compliance.models import Framework

if TYPE_CHECKING:
    from chat.answering import Answer

# The longest question accepted: enough for a pasted clause, short enough to keep prompts bounded.
MAX_QUESTION_CHARS = 4000
# Questions an organisation may ask per minute, across its members.
QUESTIONS_PER_MINUTE = 20
TITLE_CHARS = 80


class TooManyQuestions(ValidationError):
    """The organisation asked more than QUESTIONS_PER_MINUTE in the last minute; `retry_after` is the
    seconds until the next minute's allowance starts."""

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _membership(organisation: Organisation, actor: Actor) -> Membership:
    membership = Membership.objects.filter(organisation=organisation, user=actor.user).first() if actor.user else None
    if membership is None:
        raise PermissionDenied("Only members of the organisation can use its assistant.")
    return membership


def _own(conversation: Conversation, actor: Actor) -> None:
    if actor.user is None or conversation.user_id != actor.user.pk:
        raise PermissionDenied("Conversations are private to the member who started them.")


def _title_from(question: str) -> str:
    words = " ".join(question.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1].rstrip() + "…"


def _throttle(organisation: Organisation) -> None:
    now = timezone.now()
    key = f"assistant-questions:{organisation.pk}:{now:%Y%m%d%H%M}"
    added = cache.add(key, 1, timeout=90)
    count = 1 if added else cache.incr(key)
    if count > QUESTIONS_PER_MINUTE:
        raise TooManyQuestions(
            f"Your organisation has asked {QUESTIONS_PER_MINUTE} questions in the last minute. "
            "Please wait a moment and ask again.",
            retry_after=60 - now.second,
        )


def clean_question(text: str) -> str:
    question = text.strip()
    if not question:
        raise ValidationError({"question": "Type a question first."})
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationError({"question": f"Questions can be at most {MAX_QUESTION_CHARS:,} characters."})
    return question


def conversation_start(*, organisation: Organisation, actor: Actor, question: str) -> Conversation:
    membership = _membership(organisation, actor)
    question = clean_question(question)
    return Conversation.objects.create(organisation=organisation, user=membership.user, title=_title_from(question))


def question_store(*, conversation: Conversation, actor: Actor, question: str) -> Message:
    """Check and store a question, counted against the organisation's rate limit; not yet answered."""
    _own(conversation, actor)
    question = clean_question(question)
    _throttle(conversation.organisation)
    return Message.objects.create(
        organisation=conversation.organisation,
        conversation=conversation,
        role=MessageRole.USER,
        content=question,
        author=actor.user,
    )


def unanswered(question: Message) -> bool:
    return question.role == MessageRole.USER and not question.replies.filter(role=MessageRole.ASSISTANT).exists()


def question_answer(*, question: Message, progress: Callable[[str], None] | None = None) -> Message:
    """Answer a stored question and store the answer; a question already answered keeps its answer.

    Two requests answering the same question at once (a reconnecting stream, a double click) both
    produce an answer, but the unique constraint lets only one be stored and both return that one.
    """
    from chat.answering import answer_question
    from chat.proposals import proposal_for

    existing = question.replies.filter(role=MessageRole.ASSISTANT).first()
    if existing is not None:
        return existing
    conversation = question.conversation
    answer = answer_question(question.content, organisation=conversation.organisation, progress=progress)
    proposal = proposal_for(question.content, organisation=conversation.organisation)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                organisation=conversation.organisation,
                conversation=conversation,
                reply_to=question,
                role=MessageRole.ASSISTANT,
                content=answer.text,
                citations=[citation.to_dict() for citation in answer.citations],
                provider=answer.provider,
                model=answer.model,
                tokens_in=answer.tokens_in,
                tokens_out=answer.tokens_out,
                latency_ms=answer.latency_ms,
                proposal=proposal or {},
                proposal_status=ProposalStatus.PENDING if proposal else "",
            )
            Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    except IntegrityError:
        return question.replies.get(role=MessageRole.ASSISTANT)
    return message


def question_ask(*, conversation: Conversation, actor: Actor, question: str) -> Message:
    """Store the question, answer it and store the answer; returns the answer's message."""
    return question_answer(question=question_store(conversation=conversation, actor=actor, question=question))


def conversation_rename(*, conversation: Conversation, actor: Actor, title: str) -> Conversation:
    _own(conversation, actor)
    title = " ".join(title.split())[:200]
    if not title:
        raise ValidationError({"title": "Give the conversation a name."})
    conversation.title = title
    conversation.save(update_fields=["title"])
    return conversation


def conversation_delete(*, conversation: Conversation, actor: Actor) -> None:
    """Really deleted: the conversation and every message in it."""
    _own(conversation, actor)
    conversation.delete()


def message_rate(*, message: Message, actor: Actor, rating: int, comment: str = "") -> Message:
    _own(message.conversation, actor)
    if message.role != MessageRole.ASSISTANT:
        raise ValidationError("Only the assistant's answers can be rated.")
    if rating not in (-1, 1):
        raise ValidationError({"rating": "Choose thumbs up or thumbs down."})
    message.rating = rating
    message.feedback = comment.strip()[:2000]
    message.rated_at = timezone.now()
    message.save(update_fields=["rating", "feedback", "rated_at"])
    return message


def conversation_escalate(*, conversation: Conversation, actor: Actor, note: str = "") -> int:
    """Send the conversation to the organisation's consultants; returns how many were notified."""
    from accounts.notifications import notify

    _own(conversation, actor)
    if conversation.escalated_at is not None and conversation.escalation_resolved_at is None:
        raise ValidationError("This conversation is already with your consultants.")
    consultants = [
        membership.user
        for membership in Membership.objects.filter(
            organisation=conversation.organisation, role=Role.CONSULTANT
        ).select_related("user")
    ]
    with transaction.atomic():
        conversation.escalated_at = timezone.now()
        conversation.escalation_note = note.strip()[:2000]
        conversation.escalation_resolved_at = None
        conversation.save(update_fields=["escalated_at", "escalation_note", "escalation_resolved_at"])
        audit_record(
            organisation=conversation.organisation,
            actor=actor,
            action="assistant.escalated",
            summary=f"Asked a consultant about “{conversation.title}”",
            target=conversation,
        )
        for consultant in consultants:
            notify(
                organisation=conversation.organisation,
                user=consultant,
                kind="assistant_escalation",
                title=f"A question for you: {conversation.title}",
                body=conversation.escalation_note,
                url=reverse("admin:chat_conversation_change", args=[conversation.pk]),
                dedupe_key=f"escalation:{conversation.pk}:{conversation.escalated_at:%Y%m%d%H%M%S}",
            )
    return len(consultants)


# --- Asked through the API --------------------------------------------------------------------------
# Conversations are private to a person, and an API key is no person: a question asked with a key is
# answered by the same pipeline, counted against the same limit, but not stored as a conversation. An
# audit event records that it was asked, and by which key.
API_AUDIT_QUESTION_CHARS = 200


def question_answer_unstored(*, organisation: Organisation, actor: Actor, question: str, framework: str = "") -> Answer:
    """Answer a question for the organisation without storing it; `framework` (a library slug) puts
    that framework's controls first."""
    from chat.answering import answer_question

    require_actor(organisation, actor, Capability.VIEW, what="the assistant")
    question = clean_question(question)
    framework = framework.strip()
    if framework and not Framework.objects.filter(slug=framework).exists():
        raise ValidationError({"framework": "There is no framework with that slug in the library."})
    _throttle(organisation)
    answer = answer_question(question, organisation=organisation, framework=framework)
    audit_record(
        organisation=organisation,
        actor=actor,
        action="assistant.asked_via_api",
        summary=f"Asked the assistant: “{question[:API_AUDIT_QUESTION_CHARS]}”",
    )
    return answer
