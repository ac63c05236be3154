"""The request a feature makes of the gateway, and what it gets back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class AITask:
    """One structured generation.

    `instructions` and `request` are ours. `data` holds named blocks of untrusted text (uploaded
    evidence, a user's question): the model sees them delimited and labelled as data, never as
    instructions, and has no tools, so nothing in them can trigger an action. `schema` is the JSON
    schema the output must satisfy. `offline` produces a valid output with no network; it is the
    last resort and what answers when external providers are off, limited or failing.
    `people` adds names to redact beyond the organisation's members. `deadline_seconds` bounds the
    wait for someone on a page: timeouts shrink to what is left and no retry starts past it.
    """

    instructions: str
    request: str
    schema: JSONObject
    offline: Callable[[], JSONObject] | None = None
    data: Mapping[str, str] = field(default_factory=dict)
    max_output_tokens: int = 2048
    people: tuple[str, ...] = ()
    # Seconds for every provider attempt together; past it the gateway stops trying and answers offline.
    deadline_seconds: float | None = None


@dataclass(frozen=True)
class AIResult:
    output: JSONObject
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    # One "provider: reason" for every provider skipped or failed before this one answered.
    fallbacks: list[str] = field(default_factory=list)
