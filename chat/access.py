"""Fetching the assistant's objects for a request.

A conversation is private to the member who started it: another member of the same organisation gets
the same 404 as someone from another organisation, so neither learns that it exists.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from accounts.access import get_tenant_object_or_404
from chat.models import Conversation, Message, MessageRole


def get_conversation_for(request: HttpRequest, pk: Any) -> Conversation:
    conversation = get_tenant_object_or_404(request, Conversation.objects.select_related("organisation"), pk)
    if conversation.user_id != request.user.pk:
        raise Http404("No such conversation.")
    return conversation


def get_message_for(request: HttpRequest, pk: Any) -> Message:
    message = get_tenant_object_or_404(
        request, Message.objects.select_related("conversation", "conversation__organisation"), pk
    )
    if message.conversation.user_id != request.user.pk:
        raise Http404("No such message.")
    return message


def get_question_for(request: HttpRequest, conversation_pk: Any, message_pk: Any) -> Message:
    """A question of the member's conversation: what an answer stream or an answer request works on."""
    question = get_message_for(request, message_pk)
    if str(question.conversation_id) != str(conversation_pk) or question.role != MessageRole.USER:
        raise Http404("No such question.")
    return question
