from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from chat.ai.resilience import (
    BACKOFF_BASE_SECONDS,
    CircuitBreaker,
    budget_exhausted,
    parse_retry_after,
    retry_delay,
    take_request_slot,
)
from chat.tests.factories import AICallFactory

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def test_backoff_grows_exponentially_with_jitter_and_never_passes_the_cap():
    for attempt in range(4):
        ceiling = min(10, BACKOFF_BASE_SECONDS * 2**attempt)
        delays = [retry_delay(attempt, retry_after=None, cap=10) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1
    assert retry_delay(10, retry_after=None, cap=3) <= 3


def test_a_retry_after_within_the_cap_is_honoured_exactly():
    assert retry_delay(0, retry_after=2.5, cap=10) == 2.5
    assert retry_delay(3, retry_after=0, cap=10) == 0


def test_a_retry_after_beyond_the_cap_means_give_up():
    assert retry_delay(0, retry_after=60, cap=10) is None


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "7"}, None, 7),
        ({"retry-after": "1.5"}, None, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, None, 0.25),
        ({"Retry-After": "soon"}, None, None),
        ({}, None, None),
        (None, {"error": {"details": [{"@type": RETRY_INFO, "retryDelay": "37s"}]}}, 37),
        (None, {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo"}]}}, None),
        (None, "not a dict", None),
    ],
)
def test_retry_after_is_read_from_headers_or_google_retry_info(headers, body, expected):
    assert parse_retry_after(headers, body) == expected


def test_retry_after_as_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=30)
    seconds = parse_retry_after({"Retry-After": format_datetime(when, usegmt=True)})
    assert 27 <= seconds <= 31


def test_the_circuit_opens_after_consecutive_failures_only(settings):
    settings.AI_CIRCUIT_FAILURES = 3
    settings.AI_CIRCUIT_COOLDOWN_SECONDS = 60
    breaker = CircuitBreaker("gemini")

    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the run of failures
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()


def test_the_circuit_state_is_shared_through_the_cache_and_kept_per_provider(settings):
    settings.AI_CIRCUIT_FAILURES = 1
    CircuitBreaker("gemini").record_failure()

    assert not CircuitBreaker("gemini").allow()
    assert CircuitBreaker("openai").allow()


def test_after_the_cooldown_exactly_one_trial_call_is_let_through(settings):
    settings.AI_CIRCUIT_FAILURES = 1
    settings.AI_CIRCUIT_COOLDOWN_SECONDS = 0.1
    CircuitBreaker("gemini").record_failure()
    time.sleep(0.12)

    assert CircuitBreaker("gemini").allow()
    assert not CircuitBreaker("gemini").allow()  # another process, while the trial is running

    CircuitBreaker("gemini").record_success()
    assert CircuitBreaker("gemini").allow()
    assert CircuitBreaker("gemini").allow()


@pytest.mark.django_db
def test_the_rate_limit_counts_requests_per_organisation_per_minute(settings, personas):
    settings.AI_REQUESTS_PER_MINUTE = 2
    acme, rival = personas.organisation, personas.other_organisation

    assert [take_request_slot(acme) for _ in range(3)] == [True, True, False]
    assert take_request_slot(rival)


@pytest.mark.django_db
def test_a_zero_rate_limit_or_budget_means_no_limit(settings, organisation):
    settings.AI_REQUESTS_PER_MINUTE = 0
    settings.AI_MONTHLY_TOKEN_BUDGET = 0
    AICallFactory(organisation=organisation, tokens_in=10**8)

    assert all(take_request_slot(organisation) for _ in range(100))
    assert not budget_exhausted(organisation)


@pytest.mark.django_db
def test_the_budget_is_exhausted_once_this_months_tokens_reach_it(settings, organisation):
    settings.AI_MONTHLY_TOKEN_BUDGET = 1000
    AICallFactory(organisation=organisation, tokens_in=600, tokens_out=399)
    assert not budget_exhausted(organisation)

    AICallFactory(organisation=organisation, tokens_in=1, tokens_out=0)
    assert budget_exhausted(organisation)
