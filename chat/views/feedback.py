"""What a member does with an answer: rate it, confirm or dismiss its proposal, or ask a consultant."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.access import member_required
from accounts.audit import Actor
from chat import services
from chat.access import get_conversation_for, get_message_for
from chat.proposals import proposal_confirm, proposal_dismiss
from config.pages import fragment_status, render_page, wants_fragment


@require_POST
@member_required()
def rate(request: HttpRequest, message_id: int) -> HttpResponseBase:
    message = get_message_for(request, message_id)
    error = ""
    try:
        rating = int(request.POST.get("rating", "0"))
        services.message_rate(
            message=message, actor=Actor.from_request(request), rating=rating, comment=request.POST.get("comment", "")
        )
    except (ValueError, ValidationError) as problem:
        error = " ".join(problem.messages) if isinstance(problem, ValidationError) else "Choose thumbs up or down."
    if wants_fragment(request):
        context = {"message": message, "feedback_error": error, "feedback_open": bool(error) or message.rating == -1}
        return render_page(
            request,
            "chat/includes/thread.html",
            context,
            fragment="feedback",
            status=fragment_status(request, 400 if error else 200),
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Thank you: your feedback helps us improve the answers.")
    return redirect(f"{message.conversation.get_absolute_url()}#message-{message.pk}")


@require_POST
@member_required()
def proposal(request: HttpRequest, message_id: int) -> HttpResponseBase:
    """Confirm or dismiss what the assistant proposed; nothing happens until the member confirms."""
    message = get_message_for(request, message_id)
    actor = Actor.from_request(request)
    error = ""
    try:
        if request.POST.get("action") == "confirm":
            proposal_confirm(message=message, actor=actor)
        else:
            proposal_dismiss(message=message, actor=actor)
    except (ValidationError, PermissionDenied) as problem:
        error = " ".join(problem.messages) if isinstance(problem, ValidationError) else str(problem)
    message.refresh_from_db(fields=["proposal", "proposal_status", "proposal_result_url"])
    if wants_fragment(request):
        context = {"message": message, "proposal_error": error}
        return render_page(
            request,
            "chat/includes/thread.html",
            context,
            fragment="proposal",
            status=fragment_status(request, 400 if error else 200),
        )
    if error:
        messages.error(request, error)
    return redirect(f"{message.conversation.get_absolute_url()}#message-{message.pk}")


@require_POST
@member_required()
def escalate(request: HttpRequest, conversation_id: int) -> HttpResponseBase:
    conversation = get_conversation_for(request, conversation_id)
    try:
        notified = services.conversation_escalate(
            conversation=conversation, actor=Actor.from_request(request), note=request.POST.get("note", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if notified:
            messages.success(
                request,
                f"Sent to your consultant{'s' if notified != 1 else ''}. You will be notified here when they reply.",
            )
        else:
            messages.warning(
                request,
                "Saved as a question for a consultant, but your organisation has no consultant yet: "
                "an administrator can invite one from Settings.",
            )
    return redirect(conversation.get_absolute_url())
