"""Prometheus metrics: request latency by route, Celery task outcomes, AI calls.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR so every process writes to a shared
directory and /metrics aggregates them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from celery.signals import task_failure, task_postrun, task_retry
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUEST_LATENCY = Histogram(
    "greenlight_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["route", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_OUTCOMES = Counter(
    "greenlight_celery_tasks_total", "Celery tasks finished, by task name and outcome.", ["task", "outcome"]
)
AI_CALLS = Counter(
    "greenlight_ai_calls_total",
    "Calls to AI providers, by provider, feature and outcome.",
    ["provider", "feature", "outcome"],
)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    # The route pattern, never the raw path: ids in paths would make unbounded label values.
    return match.route if match is not None else "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        REQUEST_LATENCY.labels(
            route=_route(request), method=request.method or "", status=str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response


def metrics_exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY)


@task_postrun.connect
def _count_task_finished(sender: Any = None, state: str | None = None, **kwargs: Any) -> None:
    if state == "SUCCESS":
        TASK_OUTCOMES.labels(task=getattr(sender, "name", "unknown"), outcome="success").inc()


@task_failure.connect
def _count_task_failure(sender: Any = None, **kwargs: Any) -> None:
    TASK_OUTCOMES.labels(task=getattr(sender, "name", "unknown"), outcome="failure").inc()


@task_retry.connect
def _count_task_retry(sender: Any = None, **kwargs: Any) -> None:
    TASK_OUTCOMES.labels(task=getattr(sender, "name", "unknown"), outcome="retry").inc()
