"""A conversation written out: readable Markdown for people, and structured JSON with everything stored.

Both read the conversation, its organisation and member, and its messages with their authors: at most
three queries, however long the conversation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.people import person_name
from chat.answering import citation_labels
from chat.citations import Citation
from chat.models import Conversation, Message, MessageRole
from config.formatting import long_date, long_date_time

RATINGS = {1: "Rated helpful", -1: "Rated not helpful"}


def conversation_messages(conversation: Conversation) -> list[Message]:
    """The whole conversation in order, authors included: one query."""
    return list(Message.objects.filter(conversation=conversation).select_related("author").order_by("created_at", "pk"))


def speaker(message: Message, conversation: Conversation) -> str:
    """Who wrote a message, as a reader of the conversation would put it."""
    if message.role == MessageRole.USER:
        return conversation.user.display_name
    if message.role == MessageRole.CONSULTANT:
        return f"Consultant ({person_name(message.author)})"
    return "Assistant"


def safe_path(url: str) -> str | None:
    """Only paths within Greenlight become links: nothing stored can point a reader elsewhere."""
    return url if url.startswith("/") and not url.startswith("//") else None


def citation_links(citations: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Each stored citation as (label, path or None): "UK GDPR 33 Notifying a breach", "/library/…"."""
    parsed = [Citation.from_dict(item) for item in citations if isinstance(item, dict)]
    return [(label, safe_path(citation.url)) for citation, label in zip(parsed, citation_labels(parsed), strict=True)]


def rating_note(message: Message) -> str:
    return RATINGS.get(message.rating, "") if message.rating is not None else ""


def _markdown_link(label: str, path: str | None) -> str:
    if path is None:
        return label
    text = label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    target = path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{text}]({target})"


def conversation_markdown(conversation: Conversation) -> str:
    lines = [
        f"# {conversation.title}",
        "",
        f"- Organisation: {conversation.organisation.name}",
        f"- Member: {conversation.user.display_name}",
        f"- Started: {long_date_time(conversation.created_at)}",
        f"- Exported: {long_date(timezone.localdate())}",
    ]
    if conversation.escalated_at is not None:
        lines.append(f"- Sent to a consultant: {long_date_time(conversation.escalated_at)}")
        if conversation.escalation_resolved_at is not None:
            lines.append(f"- Resolved: {long_date_time(conversation.escalation_resolved_at)}")
        if conversation.escalation_note:
            lines += [
                "",
                "Note to the consultant:",
                "",
                *(f"> {line}" for line in conversation.escalation_note.splitlines()),
            ]
    for message in conversation_messages(conversation):
        lines += [
            "",
            f"## {speaker(message, conversation)} · {long_date_time(message.created_at)}",
            "",
            message.content.strip(),
        ]
        sources = citation_links(message.citations)
        if sources:
            lines += ["", "Sources:", ""]
            lines += [f"{number}. {_markdown_link(*source)}" for number, source in enumerate(sources, start=1)]
        rating = rating_note(message)
        if rating:
            lines += ["", f"*{rating}: “{message.feedback}”*" if message.feedback else f"*{rating}.*"]
    return "\n".join(lines) + "\n"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "role": message.role,
        # A consultant's reply whose author deleted their account is still a person's: a former member.
        "author": person_name(message.author) if message.author or message.role == MessageRole.CONSULTANT else None,
        "reply_to": message.reply_to_id,
        "content": message.content,
        "citations": message.citations,
        "provider": message.provider,
        "model": message.model,
        "tokens_in": message.tokens_in,
        "tokens_out": message.tokens_out,
        "latency_ms": message.latency_ms,
        "rating": message.rating,
        "feedback": message.feedback,
        "rated_at": _iso(message.rated_at),
        "proposal": message.proposal,
        "proposal_status": message.proposal_status,
        "created_at": _iso(message.created_at),
    }


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    escalation = None
    if conversation.escalated_at is not None:
        escalation = {
            "escalated_at": _iso(conversation.escalated_at),
            "note": conversation.escalation_note,
            "resolved_at": _iso(conversation.escalation_resolved_at),
        }
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "organisation": {"id": conversation.organisation_id, "name": conversation.organisation.name},
        "member": {"name": conversation.user.display_name, "email": conversation.user.email},
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
        "exported_at": timezone.now().isoformat(),
        "escalation": escalation,
        "messages": [_message_json(message) for message in conversation_messages(conversation)],
    }
