"""What `ai_generate` raises. Every message is fit to show a person."""

from __future__ import annotations


class AIError(Exception):
    """Base of the gateway's errors."""


class AIUnavailable(AIError):
    """Every provider failed or was skipped; `reasons` lists why, one "provider: reason" each."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        detail = "; ".join(reasons) or "no provider is configured"
        super().__init__(f"No AI provider could answer ({detail}). Please try again in a few minutes.")


class AIRateLimited(AIError):
    """The organisation sent too many requests this minute and the task has no offline answer."""


class AIBudgetExhausted(AIError):
    """The organisation used its monthly token budget and the task has no offline answer."""
