"""AI providers: the external ones by name, and `offline`, built in and always last."""

from __future__ import annotations

from chat.ai.providers.base import ExternalProvider
from chat.ai.providers.gemini import GeminiProvider
from chat.ai.providers.openai_provider import OpenAIProvider

EXTERNAL_PROVIDERS: dict[str, type[ExternalProvider]] = {
    GeminiProvider.name: GeminiProvider,
    OpenAIProvider.name: OpenAIProvider,
}
