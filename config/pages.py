"""Rendering a page or, for an htmx request, just the fragment that changed.

Views call `render_page` with the full template and the name of the `{% partialdef %}` an htmx
request should get. Fragments carry any pending messages as an out-of-band swap, so feedback shows
whichever way the page was updated.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string


def wants_fragment(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request  # type: ignore[union-attr]


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context = context or {}
    if fragment and wants_fragment(request):
        body = render_to_string(f"{template}#{fragment}", context, request=request)
        body += render_to_string("includes/messages.html", {"oob": True}, request=request)
        return HttpResponse(body, status=status)
    return render(request, template, context, status=status)


def fragment_status(request: HttpRequest, status: int) -> int:
    """The status for a refused form: htmx swaps only 2xx responses, so an htmx request gets 200 and the
    error in the fragment it swaps in; a plain request gets the real 4xx."""
    return 200 if wants_fragment(request) else status
