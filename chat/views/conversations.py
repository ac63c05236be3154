"""The assistant's pages: the conversation list with starter questions, one conversation, asking,
renaming, deleting and exporting.

Asking stores the question and, for htmx, returns it with a placeholder the page's script fills from
the answer stream (`chat.views.streaming`). Without the script a question is answered before the page
comes back, so the assistant works either way. Every write goes through `chat.services`.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from chat import services
from chat.access import get_conversation_for, get_question_for
from chat.exporting import conversation_json, conversation_markdown
from chat.models import Conversation, MessageRole
from chat.starters import starter_questions
from config.pages import fragment_status, render_page, wants_fragment

CONVERSATIONS_PER_PAGE = 30


def _recent_conversations(request: HttpRequest) -> Any:
    membership = require_membership(request)
    conversations = Conversation.objects.filter(organisation=membership.organisation, user_id=membership.user_id).only(
        "pk", "title", "updated_at", "escalated_at", "escalation_resolved_at"
    )
    return Paginator(conversations, CONVERSATIONS_PER_PAGE).get_page(request.GET.get("page"))


def _home_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    membership = require_membership(request)
    return {
        "conversations": _recent_conversations(request),
        "starters": starter_questions(membership.organisation),
        "max_question_chars": services.MAX_QUESTION_CHARS,
        **extra,
    }


@require_GET
@member_required()
def assistant(request: HttpRequest) -> HttpResponse:
    return render_page(request, "chat/assistant.html", _home_context(request), fragment="conversation-list")


@require_POST
@member_required()
def start(request: HttpRequest) -> HttpResponseBase:
    """A new conversation from its first question."""
    membership = require_membership(request)
    text = request.POST.get("question", "")
    actor = Actor.from_request(request)
    try:
        conversation = services.conversation_start(organisation=membership.organisation, actor=actor, question=text)
        question = services.question_store(conversation=conversation, actor=actor, question=text)
    except services.TooManyQuestions as error:
        return _ask_refused(request, "chat/assistant.html", _home_context(request), error, text, status=429)
    except ValidationError as error:
        return _ask_refused(request, "chat/assistant.html", _home_context(request), error, text, status=400)
    if wants_fragment(request):
        # The conversation page streams the answer to the question just stored.
        return HttpResponseClientRedirect(conversation.get_absolute_url())
    services.question_answer(question=question)
    return redirect(conversation.get_absolute_url())


@require_GET
@member_required()
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_conversation_for(request, conversation_id)
    return render_page(request, "chat/conversation.html", _conversation_context(request, conversation))


def _conversation_context(request: HttpRequest, conversation: Conversation, **extra: Any) -> dict[str, Any]:
    thread = list(conversation.messages.select_related("author"))
    answered = {message.reply_to_id for message in thread if message.role == MessageRole.ASSISTANT}
    return {
        "conversation": conversation,
        "thread": thread,
        "unanswered": {m.pk for m in thread if m.role == MessageRole.USER and m.pk not in answered},
        "conversations": _recent_conversations(request),
        "max_question_chars": services.MAX_QUESTION_CHARS,
        "escalation_open": conversation.escalated_at is not None and conversation.escalation_resolved_at is None,
        **extra,
    }


@require_POST
@member_required()
def ask(request: HttpRequest, conversation_id: int) -> HttpResponseBase:
    """A follow-up question in a conversation."""
    conversation = get_conversation_for(request, conversation_id)
    text = request.POST.get("question", "")
    try:
        question = services.question_store(conversation=conversation, actor=Actor.from_request(request), question=text)
    except services.TooManyQuestions as error:
        context = _conversation_context(request, conversation)
        return _ask_refused(request, "chat/conversation.html", context, error, text, status=429)
    except ValidationError as error:
        context = _conversation_context(request, conversation)
        return _ask_refused(request, "chat/conversation.html", context, error, text, status=400)
    if wants_fragment(request):
        context = {"conversation": conversation, "message": question, "pending": True, "oob_form": True}
        context["max_question_chars"] = services.MAX_QUESTION_CHARS
        return render_page(request, "chat/includes/thread.html", context, fragment="asked")
    answer = services.question_answer(question=question)
    return redirect(f"{conversation.get_absolute_url()}#message-{answer.pk}")


def _ask_refused(
    request: HttpRequest, template: str, context: dict[str, Any], error: ValidationError, text: str, *, status: int
) -> HttpResponse:
    problems = error.message_dict.get("question", error.messages) if hasattr(error, "error_dict") else error.messages
    context.update({"question_error": " ".join(problems), "question_text": text})
    response = render_page(request, template, context, fragment="ask-form", status=fragment_status(request, status))
    # A follow-up's form appends to the thread; its refusal replaces the form instead.
    response["HX-Retarget"], response["HX-Reswap"] = "#ask-form", "outerHTML"
    return response


@require_POST
@member_required()
def answer(request: HttpRequest, conversation_id: int, message_id: int) -> HttpResponseBase:
    """Answer a stored question now: the fallback when the stream could not, and the page without script."""
    question = get_question_for(request, conversation_id, message_id)
    reply = services.question_answer(question=question)
    if wants_fragment(request):
        return render_page(
            request,
            "chat/includes/thread.html",
            {"conversation": question.conversation, "message": reply},
            fragment="message",
        )
    return redirect(f"{question.conversation.get_absolute_url()}#message-{reply.pk}")


@require_POST
@member_required()
def rename(request: HttpRequest, conversation_id: int) -> HttpResponseBase:
    conversation = get_conversation_for(request, conversation_id)
    try:
        services.conversation_rename(
            conversation=conversation, actor=Actor.from_request(request), title=request.POST.get("title", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Conversation renamed.")
    if wants_fragment(request):
        conversation.refresh_from_db(fields=["title"])
        return render_page(request, "chat/conversation.html", {"conversation": conversation}, fragment="title")
    return redirect(conversation.get_absolute_url())


@require_POST
@member_required()
def delete(request: HttpRequest, conversation_id: int) -> HttpResponseBase:
    conversation = get_conversation_for(request, conversation_id)
    title = conversation.title
    services.conversation_delete(conversation=conversation, actor=Actor.from_request(request))
    messages.success(request, f"Deleted “{title}” and every message in it.")
    if wants_fragment(request):
        return HttpResponseClientRedirect("/assistant/")
    return redirect("assistant")


@require_GET
@member_required()
def export(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The conversation as Markdown to read or share, or as JSON with everything stored about it."""
    conversation = get_conversation_for(request, conversation_id)
    stem = f"{slugify(conversation.title)[:60] or 'conversation'}-{timezone.localdate():%Y-%m-%d}"
    if request.GET.get("format") == "json":
        body = json.dumps(conversation_json(conversation), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, f"{stem}.json")
        return response
    response = HttpResponse(conversation_markdown(conversation), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}.md")
    return response
