"""Claiming a background job's row, so a task delivered again after its worker died picks the job up,
and two deliveries alive at the same time never both do it.

A job row is queued, running or finished. A task claims it by marking it running and adding one to its
`attempts`; the attempt number also fences the work: each later write checks it is still the row's
attempt, so an attempt that was taken over cannot overwrite the one that replaced it.

"Running" alone cannot say whether the worker on the job is alive. Celery delivers the task again at once
when its pool process is killed (acks_late with reject_on_worker_lost), while the row still says running;
Redis also delivers it again after its visibility timeout, when the first worker may still be at work. On
PostgreSQL the claimant holds a session advisory lock named after the row for as long as it works, and the
server drops the lock as soon as the holder's connection closes, which a killed process's does at once.
So a delivery that gets the lock knows nobody is working on the row and may take it over straight away; one
that does not leaves it to the live worker and looks again later. Other databases have no such lock: there
a running row is taken over only once it is older than the job's stale age.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# A killed worker's database session ends a moment after the process: its server process has to notice
# the closed socket. A delivery that finds the lock taken waits this long before calling the holder alive.
LOCK_WAIT_SECONDS = 3.0
LOCK_POLL_SECONDS = 0.1


class ClaimHeld(Exception):
    """A live worker (or, without PostgreSQL, one not yet known to be dead) has the job."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"another worker has the job; look again in {retry_in:.0f} s")
        self.retry_in = retry_in


def lock_key(name: str, pk: int) -> int:
    """The advisory lock's 64-bit key for one row: a hash, so jobs of every kind share one key space."""
    digest = hashlib.blake2b(f"{name}:{pk}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _try_lock(key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


@contextmanager
def job_lock(name: str, pk: int) -> Iterator[bool | None]:
    """Hold the job's lock for as long as the block runs. Yields True when this session holds it (no live
    worker has the job), False when another session does (a live worker), and None when the database cannot
    tell (not PostgreSQL)."""
    if connection.vendor != "postgresql":
        yield None
        return
    key = lock_key(name, pk)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    held = _try_lock(key)
    while not held and time.monotonic() < deadline:
        time.sleep(LOCK_POLL_SECONDS)
        held = _try_lock(key)
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:  # the connection is gone, and the lock with it
                logger.warning("Could not release the lock of %s %s", name, pk, exc_info=True)


def takeover_wait(held: bool | None, started_at: datetime | None, stale_after: timedelta) -> float:
    """Seconds before this delivery may take over a job marked running: 0 when it may now."""
    if held:
        return 0.0
    if held is False:
        # The holder is alive. The task time limit ends it one way or the other, so look again after that.
        return float(settings.CELERY_TASK_TIME_LIMIT)
    if started_at is None:
        return 0.0
    return max(0.0, (started_at + stale_after - timezone.now()).total_seconds())
