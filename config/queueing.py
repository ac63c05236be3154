"""Enqueueing background work so that a broker outage never fails the request that saved the data.

Services enqueue with `enqueue_on_commit(task, *args, **kwargs)`: the task is published once the
transaction commits, with a short retry policy. If the broker (Redis) cannot be reached, the failure is
logged and nothing else happens: the saved row (a drafting job, a report run, a collection run, a
notification) stays queued, and `config.requeue` publishes it again once the broker answers. A view that
wants to tell the person so wraps the service call in `watch_enqueues()`.

Tasks are published with `ignore_result`: nothing waits for their results, and asking for one would make
Celery's Redis result store subscribe to it, which, with Redis down, retries for about twenty seconds and
then fails the request anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# One quick retry gets past a pooled connection a Redis restart broke (the retry reconnects); each attempt
# is bounded by the broker's socket timeouts (CELERY_BROKER_TRANSPORT_OPTIONS), so a request waits a few
# seconds at worst for a Redis that hangs, and not at all for one that refuses.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 0.5}


@dataclass
class Enqueues:
    """What was enqueued while watching: the names of the tasks the broker could not take."""

    deferred: list[str] = field(default_factory=list)


_watching: ContextVar[Enqueues | None] = ContextVar("greenlight_enqueues", default=None)


@contextmanager
def watch_enqueues() -> Iterator[Enqueues]:
    """Note the enqueues deferred inside the block (those a commit inside it triggers included)."""
    enqueues = Enqueues()
    token = _watching.set(enqueues)
    try:
        yield enqueues
    finally:
        _watching.reset(token)


def enqueue(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:  # type: ignore[type-arg]
    """Publish the task now (`countdown`: seconds before it may run). Returns False, having logged why, when
    the broker cannot be reached; the caller's saved state is then what brings the work back."""
    options: dict[str, Any] = {"countdown": countdown} if countdown is not None else {}
    try:
        task.apply_async(
            args=args, kwargs=kwargs, ignore_result=True, retry=True, retry_policy=PUBLISH_RETRY_POLICY, **options
        )
    except OperationalError as error:
        logger.warning(
            "Could not enqueue %s%r: the broker is unreachable (%s). What was saved is kept; a queued job is "
            "sent again by config.requeue when the broker answers.",
            task.name,
            args,
            error,
        )
        watching = _watching.get()
        if watching is not None:
            watching.deferred.append(str(task.name))
        return False
    return True


def enqueue_on_commit(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:  # type: ignore[type-arg]
    """`enqueue` once the current transaction commits (at once outside one); nothing if it rolls back."""
    transaction.on_commit(partial(enqueue, task, *args, countdown=countdown, **kwargs))
