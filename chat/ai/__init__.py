"""The AI gateway. Features call `ai_generate` with an `AITask`; see `chat/ai/gateway.py`."""

from __future__ import annotations

from chat.ai.errors import AIBudgetExhausted, AIError, AIRateLimited, AIUnavailable
from chat.ai.gateway import ai_generate
from chat.ai.task import AIResult, AITask

__all__ = ["AIBudgetExhausted", "AIError", "AIRateLimited", "AIResult", "AITask", "AIUnavailable", "ai_generate"]
