"""The Celery app. Settings come from Django's (CELERY_*); tasks live in each app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("greenlight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# requeue: the sweep that sends waiting work again, and its run when a worker starts (config/ is not an
# app, so autodiscovery would not find it). metrics: connects the task-outcome counters in every process
# that loads the app, workers included.
from config import requeue  # noqa: E402, F401
from config.observability import metrics  # noqa: E402, F401


@signals.worker_ready.connect
def _serve_worker_metrics(**kwargs: object) -> None:
    """Task outcomes are counted in the worker, so the worker serves them (web's /metrics cannot see them)."""
    from django.conf import settings
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    if not settings.CELERY_METRICS_PORT:
        return
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Prefork children run the tasks; with a shared directory their counters are added up here.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(settings.CELERY_METRICS_PORT, registry=registry)


@app.task(name="greenlight.ping", acks_late=False)
def ping(payload: str = "pong") -> str:
    """A round trip through the broker and a worker, used by /readyz checks and CI."""
    return payload
