from __future__ import annotations

from decimal import Decimal

import pytest

from chat.ai.pricing import estimate_cost, price_for
from chat.ai.schemas import InvalidOutput, is_strict_compatible, parse_and_validate, validate

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "sections": {"type": "array", "items": {"type": "string"}}},
    "required": ["title", "sections"],
    "additionalProperties": False,
}


def test_valid_json_is_parsed_and_returned():
    assert parse_and_validate('{"title": "Backup", "sections": ["Scope"]}', SCHEMA) == {
        "title": "Backup",
        "sections": ["Scope"],
    }


def test_json_in_a_markdown_fence_is_accepted():
    assert parse_and_validate('```json\n{"title": "T", "sections": []}\n```', SCHEMA)["title"] == "T"


def test_text_that_is_not_json_is_invalid_with_a_reason():
    with pytest.raises(InvalidOutput, match="not valid JSON"):
        parse_and_validate("Here you go: {title: T}", SCHEMA)


def test_a_schema_violation_names_where_and_what():
    with pytest.raises(InvalidOutput, match=r"At sections/1: 3 is not of type 'string'"):
        validate({"title": "T", "sections": ["a", 3]}, SCHEMA)


def test_a_missing_property_is_reported_at_the_top_level():
    with pytest.raises(InvalidOutput, match="At the top level: 'sections' is a required property"):
        validate({"title": "T"}, SCHEMA)


def test_output_must_be_an_object_even_if_the_schema_allows_more():
    with pytest.raises(InvalidOutput, match="JSON object"):
        validate(["a"], {"type": "array"})


def test_strict_compatibility_needs_closed_objects_with_every_property_required():
    assert is_strict_compatible(SCHEMA)
    assert not is_strict_compatible({**SCHEMA, "additionalProperties": True})
    assert not is_strict_compatible({**SCHEMA, "required": ["title"]})
    nested_open = {**SCHEMA, "properties": {**SCHEMA["properties"], "meta": {"type": "object"}}}
    nested_open["required"] = ["title", "sections", "meta"]
    assert not is_strict_compatible(nested_open)


def test_prices_match_the_longest_model_prefix():
    assert price_for("gpt-4.1-mini-2025-04-14") == price_for("gpt-4.1-mini")
    assert price_for("gpt-4.1-mini") != price_for("gpt-4.1")
    assert price_for("models/gemini-2.5-flash-lite") == price_for("gemini-2.5-flash-lite")
    assert price_for("some-new-model") is None


def test_cost_is_estimated_in_pounds_per_million_tokens():
    assert estimate_cost("gemini-2.5-flash", tokens_in=1_000_000, tokens_out=1_000_000) == Decimal("2.130000")
    assert estimate_cost("offline", tokens_in=0, tokens_out=0) == Decimal("0")
    assert estimate_cost("unknown", tokens_in=5, tokens_out=5) is None
