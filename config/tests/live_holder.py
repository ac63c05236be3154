"""A live worker holding a job, for tests: another database session takes the job's lock, as the worker
process does while it works (config.task_claims). Closing the session is that worker dying."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from config.task_claims import lock_key


@contextmanager
def live_worker_holds(name: str, pk: int) -> Iterator[None]:
    """On PostgreSQL, hold the job's lock from a second session for the block. Elsewhere there is no lock
    to hold: a row marked running recently already counts as a live worker's."""
    if connection.vendor != "postgresql":
        yield
        return
    import psycopg

    params = connection.settings_dict
    with psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [lock_key(name, pk)])
        yield
