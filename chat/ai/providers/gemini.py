"""Google Gemini through the official `google-genai` client."""

from __future__ import annotations

from functools import lru_cache

import httpx2
from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from chat.ai.providers.base import (
    ExternalProvider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
    error_for_status,
)
from chat.ai.resilience import parse_retry_after
from chat.models import AICallOutcome


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str, timeout_ms: int) -> genai.Client:
    # No retry_options: the client makes one attempt, and the gateway owns retries and fallback.
    return genai.Client(
        api_key=api_key,
        vertexai=False,
        http_options=types.HttpOptions(base_url=base_url or None, timeout=timeout_ms),
    )


class GeminiProvider(ExternalProvider):
    name = "gemini"

    @classmethod
    def from_settings(cls) -> GeminiProvider | None:
        if not settings.GEMINI_API_KEY:
            return None
        return cls(
            api_key=settings.GEMINI_API_KEY,
            model=settings.GEMINI_MODEL,
            base_url=settings.GEMINI_BASE_URL,
            timeout=float(settings.AI_TIMEOUT_SECONDS),
        )

    def complete(self, request: ProviderRequest) -> ProviderReply:
        client = _client(self.api_key, self.base_url, max(int(self.timeout * 1000), 1))
        contents = [
            types.Content(role="user" if message.role == "user" else "model", parts=[types.Part(text=message.text)])
            for message in request.messages
        ]
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            response_mime_type="application/json",
            response_json_schema=request.schema,
            max_output_tokens=request.max_output_tokens,
            # The model gets no tools, so there is nothing for it to call.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        try:
            response = client.models.generate_content(model=self.model, contents=contents, config=config)
        except genai_errors.APIError as error:
            headers = dict(error.response.headers) if getattr(error, "response", None) is not None else None
            raise error_for_status(
                int(error.code or 0),
                f"{error.code} {error.status or ''}: {error.message or ''}".strip(),
                retry_after=parse_retry_after(headers, error.details),
            ) from error
        except httpx2.TimeoutException as error:
            raise ProviderError(
                AICallOutcome.TIMEOUT, f"No answer within {self.timeout:g} s.", retryable=True
            ) from error
        except httpx2.TransportError as error:
            raise ProviderError(
                AICallOutcome.CONNECTION_ERROR, str(error) or "Connection failed.", retryable=True
            ) from error
        except ValueError as error:  # a body that is not JSON, or not the shape the client expects
            raise ProviderError(AICallOutcome.MALFORMED_RESPONSE, f"Unreadable response: {error}") from error

        usage = response.usage_metadata
        tokens_in = (usage.prompt_token_count or 0) if usage else 0
        # Thinking tokens are billed as output.
        tokens_out = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
        text = response.text
        if not text:
            reason = response.candidates[0].finish_reason if response.candidates else None
            feedback = response.prompt_feedback.block_reason if response.prompt_feedback else None
            raise ProviderError(
                AICallOutcome.EMPTY_OUTPUT,
                f"No text in the reply (finish reason {reason}, block reason {feedback}).",
                tokens_in=tokens_in,
                tokens_out=tokens_out,
            )
        return ProviderReply(
            text=text, model=response.model_version or self.model, tokens_in=tokens_in, tokens_out=tokens_out
        )
