"""API errors as RFC 9457 problem details (application/problem+json).

Every error has `type`, `title`, `status` and `detail`; validation errors add `errors`, a map from field
name to its messages (`non_field_errors` for the request as a whole). Services raise Django's
ValidationError and PermissionDenied; they are translated here, so views need no try/except.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    507: "Insufficient storage",
}


def _as_drf(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(
                {
                    ("non_field_errors" if field == "__all__" else field): messages
                    for field, messages in exc.message_dict.items()
                }
            )
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    return exc


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(_as_drf(exc), context)
    if response is None:
        return None
    data = response.data
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(response.status_code, "Error"),
        "status": response.status_code,
    }
    if isinstance(data, dict) and set(data) == {"detail"}:
        problem["detail"] = str(data["detail"])
    else:
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        problem["detail"] = "Some of the values sent are not valid; see errors."
        problem["errors"] = errors
    response.data = problem
    response.content_type = "application/problem+json"
    return response
