"""Refuse oversized request bodies before anything reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            limit_mb = settings.MAX_REQUEST_BODY_BYTES // (1024 * 1024)
            return JsonResponse(
                {
                    "type": "about:blank",
                    "title": "Request too large",
                    "status": 413,
                    "detail": f"Requests are limited to {limit_mb} MB.",
                },
                status=413,
                content_type="application/problem+json",
            )
        return self.get_response(request)
