"""OpenAI through the official `openai` client (chat completions with a JSON schema response format)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import openai
from django.conf import settings
from openai import OpenAI

from chat.ai.providers.base import (
    ExternalProvider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
    error_for_status,
)
from chat.ai.resilience import parse_retry_after
from chat.ai.schemas import is_strict_compatible
from chat.models import AICallOutcome


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str, timeout: float) -> OpenAI:
    # max_retries=0: the gateway owns retries, backoff and fallback.
    return OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)


def _schema_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "output"


class OpenAIProvider(ExternalProvider):
    name = "openai"

    @classmethod
    def from_settings(cls) -> OpenAIProvider | None:
        if not settings.OPENAI_API_KEY:
            return None
        return cls(
            api_key=settings.OPENAI_API_KEY,
            model=settings.OPENAI_MODEL,
            base_url=settings.OPENAI_BASE_URL,
            timeout=float(settings.AI_TIMEOUT_SECONDS),
        )

    def complete(self, request: ProviderRequest) -> ProviderReply:
        client = _client(self.api_key, self.base_url, self.timeout)
        messages: list[Any] = [{"role": "system", "content": request.system}]
        messages += [{"role": message.role, "content": message.text} for message in request.messages]
        response_format: Any = {
            "type": "json_schema",
            "json_schema": {
                "name": _schema_name(request.name),
                "schema": request.schema,
                # Strict mode guarantees the shape, but only accepts closed schemas; we validate either way.
                "strict": is_strict_compatible(request.schema),
            },
        }
        try:
            completion = client.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format=response_format,
                max_completion_tokens=request.max_output_tokens,
            )
        except openai.APITimeoutError as error:
            raise ProviderError(
                AICallOutcome.TIMEOUT, f"No answer within {self.timeout:g} s.", retryable=True
            ) from error
        except openai.APIConnectionError as error:
            raise ProviderError(AICallOutcome.CONNECTION_ERROR, str(error), retryable=True) from error
        except openai.APIStatusError as error:
            raise error_for_status(
                error.status_code,
                f"{error.status_code}: {error.message}",
                retry_after=parse_retry_after(dict(error.response.headers)),
            ) from error
        except (openai.APIResponseValidationError, ValueError) as error:
            raise ProviderError(AICallOutcome.MALFORMED_RESPONSE, f"Unreadable response: {error}") from error

        usage = completion.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        choice = completion.choices[0] if completion.choices else None
        text = choice.message.content if choice else None
        if not text:
            refusal = choice.message.refusal if choice else None
            reason = choice.finish_reason if choice else None
            raise ProviderError(
                AICallOutcome.EMPTY_OUTPUT,
                f"No content in the reply (finish reason {reason}{', refused: ' + refusal if refusal else ''}).",
                tokens_in=tokens_in,
                tokens_out=tokens_out,
            )
        return ProviderReply(
            text=text, model=completion.model or self.model, tokens_in=tokens_in, tokens_out=tokens_out
        )
