"""What every external provider implements, and the failures it reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from chat.ai.task import JSONObject
from chat.models import AICallOutcome


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class ProviderRequest:
    """Already redacted: nothing in here may carry personal data the redactor could catch."""

    name: str  # a short label for the output, e.g. the feature
    system: str
    messages: tuple[Message, ...]
    schema: JSONObject
    max_output_tokens: int


@dataclass(frozen=True)
class ProviderReply:
    text: str
    model: str
    tokens_in: int
    tokens_out: int


class ProviderError(Exception):
    """One failed attempt. `retryable` failures are retried at the same provider with backoff."""

    def __init__(
        self,
        outcome: AICallOutcome,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out


def error_for_status(status: int, message: str, *, retry_after: float | None = None) -> ProviderError:
    """Timeouts (408), 429 and 5xx are worth retrying; any other 4xx is our request's fault and is not."""
    if status == 429:
        return ProviderError(AICallOutcome.RATE_LIMITED, message, retryable=True, retry_after=retry_after)
    if status == 408:
        return ProviderError(AICallOutcome.TIMEOUT, message, retryable=True, retry_after=retry_after)
    if status >= 500:
        return ProviderError(AICallOutcome.SERVER_ERROR, message, retryable=True, retry_after=retry_after)
    return ProviderError(AICallOutcome.CLIENT_ERROR, message)


class ExternalProvider(ABC):
    """A provider reached over the network. Instances are cheap; the underlying clients are cached."""

    name: ClassVar[str]

    def __init__(self, *, api_key: str, model: str, base_url: str, timeout: float) -> None:
        self.api_key = api_key
        self.model = model
        self.base_url = base_url
        self.timeout = timeout

    @classmethod
    @abstractmethod
    def from_settings(cls) -> ExternalProvider | None:
        """The provider as configured, or None when it has no key."""

    @abstractmethod
    def complete(self, request: ProviderRequest) -> ProviderReply:
        """One request, no retries of its own. Raises `ProviderError` for every failure."""
