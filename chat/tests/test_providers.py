"""Each provider on its own: the real client's request, and how its failures are classified."""

from __future__ import annotations

import json
import socket

import pytest

from chat.ai.providers.base import Message, ProviderError, ProviderRequest
from chat.ai.providers.gemini import GeminiProvider
from chat.ai.providers.openai_provider import OpenAIProvider
from chat.models import AICallOutcome
from chat.tests.fakes import GEMINI, OPENAI, Reply, error, gemini_ok, malformed, openai_ok

OPEN_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
REQUEST = ProviderRequest(
    name="assistant answer",
    system="Answer briefly.",
    messages=(Message("user", "What is Cyber Essentials?"),),
    schema=OPEN_SCHEMA,
    max_output_tokens=200,
)


def gemini(fake_ai) -> GeminiProvider:
    provider = GeminiProvider.from_settings()
    assert provider is not None
    return provider


def openai(fake_ai) -> OpenAIProvider:
    provider = OpenAIProvider.from_settings()
    assert provider is not None
    return provider


def failure(call) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        call()
    return raised.value


def test_providers_without_a_key_are_not_built(settings):
    settings.GEMINI_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    assert GeminiProvider.from_settings() is None
    assert OpenAIProvider.from_settings() is None


def test_gemini_reply_text_model_and_usage_including_thinking_tokens(fake_ai):
    body = json.loads(gemini_ok({"answer": "A UK government-backed scheme."}).body)
    body["usageMetadata"]["thoughtsTokenCount"] = 30
    body["modelVersion"] = "gemini-2.5-flash-001"
    fake_ai.script(GEMINI, Reply(body=json.dumps(body).encode()))

    reply = gemini(fake_ai).complete(REQUEST)

    assert json.loads(reply.text) == {"answer": "A UK government-backed scheme."}
    assert (reply.model, reply.tokens_in, reply.tokens_out) == ("gemini-2.5-flash-001", 120, 110)
    sent = fake_ai.seen(GEMINI)[0].body
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "What is Cyber Essentials?"}]}]
    assert "tools" not in sent


def test_gemini_turns_map_assistant_to_model(fake_ai):
    fake_ai.script(GEMINI, gemini_ok({"answer": "x"}))
    request = ProviderRequest(
        name="x",
        system="s",
        messages=(Message("user", "a"), Message("assistant", "b"), Message("user", "c")),
        schema=OPEN_SCHEMA,
        max_output_tokens=10,
    )

    gemini(fake_ai).complete(request)

    assert [turn["role"] for turn in fake_ai.seen(GEMINI)[0].body["contents"]] == ["user", "model", "user"]


@pytest.mark.parametrize(
    ("reply", "outcome", "retryable"),
    [
        (error(429), AICallOutcome.RATE_LIMITED, True),
        (error(408), AICallOutcome.TIMEOUT, True),
        (error(500), AICallOutcome.SERVER_ERROR, True),
        (error(503), AICallOutcome.SERVER_ERROR, True),
        (error(400), AICallOutcome.CLIENT_ERROR, False),
        (error(403), AICallOutcome.CLIENT_ERROR, False),
        (malformed(), AICallOutcome.MALFORMED_RESPONSE, False),
    ],
)
@pytest.mark.parametrize("provider", [GEMINI, OPENAI])
def test_failures_are_classified_the_same_for_both_providers(fake_ai, provider, reply, outcome, retryable):
    fake_ai.script(provider, reply)
    client = gemini(fake_ai) if provider == GEMINI else openai(fake_ai)

    raised = failure(lambda: client.complete(REQUEST))

    assert (raised.outcome, raised.retryable) == (outcome, retryable)


@pytest.mark.parametrize("provider", [GEMINI, OPENAI])
def test_a_slow_provider_times_out(fake_ai, provider):
    fake_ai.script(provider, Reply(body=b"{}", delay=1.0))
    client = gemini(fake_ai) if provider == GEMINI else openai(fake_ai)

    raised = failure(lambda: client.complete(REQUEST))

    assert raised.outcome == AICallOutcome.TIMEOUT
    assert raised.retryable


@pytest.mark.parametrize("provider", [GEMINI, OPENAI])
def test_nobody_listening_is_a_retryable_connection_error(settings, provider):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.GEMINI_API_KEY = settings.OPENAI_API_KEY = "test-key"
    settings.GEMINI_BASE_URL = f"http://127.0.0.1:{port}"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.AI_TIMEOUT_SECONDS = 0.5
    client = GeminiProvider.from_settings() if provider == GEMINI else OpenAIProvider.from_settings()

    raised = failure(lambda: client.complete(REQUEST))

    assert raised.outcome == AICallOutcome.CONNECTION_ERROR
    assert raised.retryable


def test_gemini_retry_info_becomes_the_retry_after(fake_ai):
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]
    fake_ai.script(GEMINI, error(429, "Quota", details=details))

    assert failure(lambda: gemini(fake_ai).complete(REQUEST)).retry_after == 12


def test_openai_retry_after_ms_becomes_the_retry_after(fake_ai):
    fake_ai.script(OPENAI, error(429, headers={"retry-after-ms": "1500"}))

    assert failure(lambda: openai(fake_ai).complete(REQUEST)).retry_after == 1.5


def test_openai_uses_non_strict_mode_for_an_open_schema_and_a_safe_schema_name(fake_ai):
    fake_ai.script(OPENAI, openai_ok({"answer": "x"}))

    reply = openai(fake_ai).complete(REQUEST)

    assert (reply.tokens_in, reply.tokens_out) == (110, 70)
    json_schema = fake_ai.seen(OPENAI)[0].body["response_format"]["json_schema"]
    assert json_schema == {"name": "assistant_answer", "schema": OPEN_SCHEMA, "strict": False}
    assert fake_ai.seen(OPENAI)[0].body["messages"][0] == {"role": "system", "content": "Answer briefly."}
