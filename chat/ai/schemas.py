"""Structured outputs: parse the model's JSON and check it against the task's schema."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from chat.ai.task import JSONObject


class InvalidOutput(ValueError):
    """The output is not JSON, or not what the schema asks for. The message is fit to send back for repair."""


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validator_for(schema: JSONObject) -> Draft202012Validator:
    # Keyed by the schema's text: tasks build their schema as a fresh dict each time.
    return _validator(json.dumps(schema, sort_keys=True))


def validate(output: Any, schema: JSONObject) -> JSONObject:
    """The output, if it is an object satisfying the schema; otherwise `InvalidOutput` saying why."""
    error = best_match(validator_for(schema).iter_errors(output))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        raise InvalidOutput(f"At {where}: {error.message}")
    if not isinstance(output, dict):
        raise InvalidOutput("The output must be a JSON object.")
    return output


def parse_and_validate(text: str, schema: JSONObject) -> JSONObject:
    try:
        output = json.loads(_strip_code_fence(text))
    except json.JSONDecodeError as error:
        raise InvalidOutput(f"The reply is not valid JSON: {error.msg} at character {error.pos}.") from error
    return validate(output, schema)


def _strip_code_fence(text: str) -> str:
    # Some models wrap JSON in a Markdown fence even when asked for JSON only.
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped[3:-3]
        stripped = stripped.removeprefix("json").removeprefix("JSON")
    return stripped.strip()


def is_strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict structured outputs accept the schema: every object closed, every property required."""
    if isinstance(schema, list):
        return all(is_strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False or set(schema.get("required", [])) != set(properties):
            return False
    return all(is_strict_compatible(value) for key, value in schema.items() if key not in {"enum", "const", "default"})
