"""A real round trip: this process sends `greenlight.ping` through Redis to a real Celery worker.

Runs only when `REDIS_URL` is set (CI's PostgreSQL + Redis pass). The worker listens on a queue of
its own, so it never takes work meant for anyone else sharing the Redis database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from config.celery import app, ping

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.live_services,
    pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: a real Redis for the broker"),
]


@pytest.fixture
def real_broker():
    """Undo the suite's eager mode for this test only: tasks really go through Redis.

    Celery reads Django's settings live; values set on `app.conf` shadow them until removed, so the
    overrides are taken out again afterwards rather than overwritten with a snapshot.
    """
    overrides = {"task_always_eager": False, "broker_url": REDIS_URL, "result_backend": REDIS_URL}
    changes = app.conf.changes
    shadowed = {key: changes[key] for key in overrides if key in changes}
    app.conf.update(overrides)
    yield
    for key in overrides:
        changes.pop(key, None)
    changes.update(shadowed)


@pytest.fixture
def worker(tmp_path):
    """A `celery worker` subprocess on a queue of its own, stopped with a warm shutdown afterwards."""
    queue = f"greenlight-test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    env = {key: value for key, value in os.environ.items() if key != "CELERY_TASK_ALWAYS_EAGER"}
    env.update(REDIS_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(tmp_path))
    command = [
        *(sys.executable, "-m", "celery", "-A", "config", "worker"),
        *("--pool=solo", "--queues", queue, "--hostname", f"{queue}@%h", "--loglevel=INFO"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield queue, process, log_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with app.connection_for_write() as connection:
            # Leave nothing behind in Redis: the queue and kombu's binding keys, all named after it.
            client = connection.default_channel.client
            for key in client.scan_iter(match=f"*{queue}*"):
                client.delete(key)


def test_ping_goes_through_redis_to_a_real_worker_and_back(real_broker, worker):
    queue, process, log_path = worker
    payload = f"round-trip-{uuid.uuid4().hex}"

    result = ping.apply_async(args=[payload], queue=queue)
    try:
        answer = result.get(timeout=30)
    except Exception as error:
        pytest.fail(f"No answer from the worker ({error!r}). Worker log:\n{log_path.read_text()}")

    assert answer == payload
    assert result.successful()
    result.forget()
    # A warm shutdown: the worker finishes cleanly when asked to stop.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0, log_path.read_text()
    assert "ready." in log_path.read_text()
