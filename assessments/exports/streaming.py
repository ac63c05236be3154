"""A streamed response that stays streamed under ASGI as well as WSGI.

Django serves a synchronous iterator under ASGI by reading all of it into a list first
(`StreamingHttpResponse.__aiter__`), which for an evidence pack would hold every file in memory at once.
Production runs ASGI workers (see the Dockerfile), so this response hands the event loop one chunk at a
time, each pulled from the generator in the request's own thread (`thread_sensitive`), where the view ran:
a CSV generator reads the database as it goes, and must use the request's connection, not open one in a
pool thread that nobody would close. Under WSGI and the test client it is an ordinary synchronous stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header


def _next_chunk(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)


class ChunkedStreamingResponse(StreamingHttpResponse):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        iterator: Iterator[bytes] = iter(self.streaming_content)  # type: ignore[arg-type]
        pull = sync_to_async(_next_chunk, thread_sensitive=True)
        while (chunk := await pull(iterator)) is not None:
            yield chunk


def attachment(content: Iterable[bytes], *, filename: str, content_type: str) -> ChunkedStreamingResponse:
    """A download that is never cached by a shared cache and never sniffed into something else."""
    response = ChunkedStreamingResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    # Proxies such as nginx would otherwise buffer the whole pack before passing it on.
    response["X-Accel-Buffering"] = "no"
    return response
