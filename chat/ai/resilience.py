"""Retries with backoff, a circuit breaker per provider, and per-organisation limits.

State lives in Django's cache (Redis in production), so every web process and worker shares it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import Organisation
from chat.ai.records import tokens_used_this_month

BACKOFF_BASE_SECONDS = 0.5
_random = random.SystemRandom()


# --- Retries ----------------------------------------------------------------------------------------


def retry_delay(attempt: int, *, retry_after: float | None, cap: float) -> float | None:
    """Seconds to wait before retrying after failed attempt number `attempt` (0 first), or None to give up.

    A provider's own Retry-After is honoured exactly when it is within the cap; asking for longer means
    the provider is better skipped. Otherwise exponential backoff with jitter, never above the cap.
    """
    if retry_after is not None:
        return max(retry_after, 0.0) if retry_after <= cap else None
    ceiling = min(cap, BACKOFF_BASE_SECONDS * 2**attempt)
    return _random.uniform(ceiling / 2, ceiling)


def parse_retry_after(headers: Mapping[str, str] | None, body: Any = None) -> float | None:
    """Seconds a provider asked us to wait: `retry-after-ms`, `Retry-After` (seconds or a date), or RetryInfo."""
    if headers:
        lowered = {key.lower(): value for key, value in headers.items()}
        if (milliseconds := _number(lowered.get("retry-after-ms"))) is not None:
            return milliseconds / 1000
        raw = lowered.get("retry-after")
        if (seconds := _number(raw)) is not None:
            return seconds
        if raw:
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return _google_retry_delay(body)


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 and value == value else None


def _google_retry_delay(body: Any) -> float | None:
    error = body.get("error", body) if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay", ""))
            return _number(delay.removesuffix("s")) if delay.endswith("s") else None
    return None


# --- Circuit breaker --------------------------------------------------------------------------------


class CircuitBreaker:
    """Closed until `AI_CIRCUIT_FAILURES` consecutive failures; then open (skipped) for the cool-down;
    then half-open: one trial call at a time decides whether it closes again or reopens."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._failures_key = f"ai:circuit:{provider}:failures"
        self._open_until_key = f"ai:circuit:{provider}:open-until"
        self._trial_key = f"ai:circuit:{provider}:trial"

    def allow(self) -> bool:
        open_until = cache.get(self._open_until_key)
        if open_until is None:
            return True
        if time.time() < open_until:
            return False
        # Half-open: only the process that takes the trial slot calls; the slot expires in case it dies.
        return bool(cache.add(self._trial_key, 1, timeout=_cooldown()))

    def record_success(self) -> None:
        cache.delete_many([self._failures_key, self._open_until_key, self._trial_key])

    def record_failure(self) -> None:
        if cache.get(self._open_until_key) is not None:
            # A failed trial (or a straggler from before it opened): open again for a full cool-down.
            self._open()
            return
        if _increment(self._failures_key, timeout=24 * 3600) >= max(settings.AI_CIRCUIT_FAILURES, 1):
            self._open()

    def _open(self) -> None:
        cache.set(self._open_until_key, time.time() + _cooldown(), timeout=None)
        cache.delete_many([self._trial_key, self._failures_key])


def _cooldown() -> float:
    return max(float(settings.AI_CIRCUIT_COOLDOWN_SECONDS), 0.001)


def _increment(key: str, *, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


# --- Per-organisation limits (external providers only) ----------------------------------------------


def take_request_slot(organisation: Organisation) -> bool:
    """Counts one request against the organisation's per-minute limit; False once the limit is passed."""
    limit = settings.AI_REQUESTS_PER_MINUTE
    if limit <= 0:
        return True
    minute = int(time.time() // 60)
    return _increment(f"ai:rate:{organisation.pk}:{minute}", timeout=120) <= limit


def budget_exhausted(organisation: Organisation) -> bool:
    budget = settings.AI_MONTHLY_TOKEN_BUDGET
    return budget > 0 and tokens_used_this_month(organisation) >= budget
