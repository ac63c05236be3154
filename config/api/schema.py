"""OpenAPI 3 details drf-spectacular cannot infer: the key scheme, the scope each operation needs, and
the problem+json error responses every operation can give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Field name to its messages; `non_field_errors` for the request as a whole.",
            "additionalProperties": {},
        },
    },
    "required": ["type", "title", "status"],
}

ERROR_RESPONSES = {
    "400": "The request is not valid; `errors` says which fields and why.",
    "401": "No API key, or the key is not recognised, revoked or expired.",
    "403": "The key lacks the scope this operation needs (the detail names it).",
    "404": "No such object, or it belongs to an organisation the key cannot reach.",
    "429": "Too many requests for this key; retry after the `Retry-After` header's seconds.",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "config.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "glk_<prefix>_<secret>",
            "description": "An API key made in Settings > API keys, or a partner key issued by Greenlight.",
        }


class GreenlightAutoSchema(AutoSchema):
    """Adds the operation's scope to its description and as `x-required-scope`."""

    def _scope(self) -> str | None:
        required = getattr(self.view, "required_scope", None)
        scope = required(self.method) if callable(required) else None
        return str(scope) if scope else None

    def get_tags(self) -> list[str]:
        # Group `/organisations/{slug}/evidence/...` under "evidence", not everything under "organisations".
        tokens = self._tokenize_path()
        if len(tokens) > 1 and tokens[0] == "organisations":
            return [tokens[1]]
        return list(super().get_tags())

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        # Here rather than in get_description: `@extend_schema(description=...)` replaces that method.
        operation = super().get_operation(*args, **kwargs)
        scope = self._scope()
        if operation is not None and not operation.get("summary"):
            operation["summary"] = summary_from(operation["operationId"])
        if operation is not None and scope:
            operation["x-required-scope"] = scope
            operation["description"] = f"{operation.get('description', '')}\n\n**Scope:** `{scope}`".strip()
        return operation


VERBS = {
    "list": "List",
    "create": "Create",
    "retrieve": "Get",
    "partial_update": "Update",
    "update": "Update",
    "destroy": "Delete",
}
# Where the generated operation id reads badly as a title.
SUMMARIES = {
    "adoptions_create": "Adopt a framework",
    "adoption_drop": "Drop a framework",
    "answers_save": "Save an answer",
    "assessment_current": "The current assessment",
    "evidence_download": "Download evidence",
    "policy_export": "Export a policy as PDF or Word",
    "readiness_explanation": "How a framework's score is made",
    "readiness_history": "Readiness over time",
    "policy_list": "List policies",
    "tasks_create": "Create a task",
    "evidence_create": "Upload evidence, or add a link or a note",
}


def summary_from(operation_id: str) -> str:
    """A readable title for an operation without one: `adoptions_list` -> "List adoptions",
    `adoption_drop` -> "Adoption drop"."""
    if operation_id in SUMMARIES:
        return SUMMARIES[operation_id]
    for suffix, verb in VERBS.items():
        if operation_id.endswith(f"_{suffix}"):
            subject = operation_id.removesuffix(f"_{suffix}").replace("_", " ")
            return f"{verb} {subject}"
    return operation_id.replace("_", " ").capitalize()


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    reference = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/problem+json": {"schema": reference}}}
                )
    return result
