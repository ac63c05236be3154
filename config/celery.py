"""The Celery app. Settings come from Django's (CELERY_*); tasks live in each app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("greenlight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the task-outcome counters in every process that loads the app, workers included.
from config.observability import metrics  # noqa: E402, F401


@app.task(name="greenlight.ping", acks_late=False)
def ping(payload: str = "pong") -> str:
    """A round trip through the broker and a worker, used by /readyz checks and CI."""
    return payload
