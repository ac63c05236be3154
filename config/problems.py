"""API errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    problem: dict[str, Any] = {"type": "about:blank", "status": response.status_code}
    if isinstance(data, dict) and set(data) == {"detail"}:
        problem["title"] = str(data["detail"])
    else:
        problem["title"] = "Invalid request"
        problem["errors"] = data
    response.data = problem
    response.content_type = "application/problem+json"
    return response
