"""The answer to a question, streamed to the browser as server-sent events.

An async view: under ASGI (gunicorn with uvicorn workers in production, `make run` in development) the
connection waits on the event loop, not on a web worker, however slow the provider. The answering
itself is synchronous ORM and HTTP work; it runs in the request's own thread through `sync_to_async`
and reports each stage as it starts, which this view forwards as `status` events.

The answer is sent whole, as rendered HTML in an `answer` event, once its citations have been checked
against the library: a citation to something that does not exist is dropped before anything is shown.
A reconnecting or repeated stream for an answered question sends the stored answer; nothing is answered
twice (see `chat.services.question_answer`).

Events: `status` (plain text), `answer` (HTML of the answer), `failed` (plain text); comments keep the
connection alive while the answer is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, StreamingHttpResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from accounts.access import require_membership
from chat.access import get_question_for
from chat.models import Message
from chat.services import question_answer

logger = logging.getLogger(__name__)

# How often the stream says it is still alive while a slow provider writes.
KEEPALIVE_SECONDS = 10


def event(name: str, data: str) -> str:
    """One server-sent event; every line of the data gets its own `data:` field."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n{lines}\n"


def _question(request: HttpRequest, conversation_id: int, message_id: int) -> Message:
    require_membership(request)
    return get_question_for(request, conversation_id, message_id)


@require_GET
async def answer_stream(request: HttpRequest, conversation_id: int, message_id: int) -> StreamingHttpResponse:
    question = await sync_to_async(_question)(request, conversation_id, message_id)
    response = StreamingHttpResponse(_answer_events(request, question), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"  # proxies such as nginx would otherwise hold the events back
    return response


async def _answer_events(request: HttpRequest, question: Message) -> AsyncIterator[str]:
    stages: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def progress(stage: str) -> None:  # called from the answering thread
        loop.call_soon_threadsafe(stages.put_nowait, stage)

    work = asyncio.ensure_future(sync_to_async(question_answer)(question=question, progress=progress))
    yield event("status", "Reading your question…")
    while not work.done():
        waiting = asyncio.ensure_future(stages.get())
        done, _ = await asyncio.wait({work, waiting}, timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            yield event("status", waiting.result())
        else:
            waiting.cancel()
            if not done:
                yield ": still writing\n\n"
    while not stages.empty():
        stages.get_nowait()  # stages reported after the last wait: the answer itself says more
    try:
        reply = work.result()
    except Exception:
        logger.exception("Answering question %s failed", question.pk)
        yield event("failed", "The answer could not be written. Your question is saved: try again.")
        return
    html = await sync_to_async(render_to_string)(
        "chat/includes/thread.html#message",
        {"conversation": question.conversation, "message": reply},
        request=request,
    )
    yield event("answer", html)
