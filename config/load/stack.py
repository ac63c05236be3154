"""The services `make load` starts around the throwaway database, each stopped again however the run ends:
the environment they share, static files collected as the Dockerfile collects them, a Celery worker,
and the Redis keys the run creates (removed afterwards). gunicorn is config/bench_api.py's.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config.bench import BASE_DIR


def redis_url_with_db(url: str, db: int | None) -> str:
    """`url` pointing at Redis database `db` (None: the one it names, 0 when it names none)."""
    parts = urlsplit(url)
    if db is None:
        return url
    return urlunsplit(parts._replace(path=f"/{db}"))


def redis_db(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def environment(*, database_url: str, redis_url: str, data_dir: Path, api_rate: str, people: int) -> dict[str, str]:
    """What gunicorn, the worker and collectstatic run with: production settings, as the Dockerfile and
    docker-compose set them, on the throwaway database, this run's Redis database and its own files."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "GREENLIGHT_ENV": "production",
        # One key for every process: the worker and the web processes must agree on what they sign.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: the client says it came through the HTTPS proxy (see the locustfile).
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATA_DIR": str(data_dir),
        # Each person has at most one request in flight, so a pool as large as the people never makes a
        # request wait for a connection, and PostgreSQL still sees no more connections than requests in
        # flight. With the default (10 a worker, 3 s wait), a worker holding more than ten people's
        # requests at once, as on a machine other work had starved, sheds the rest with 503: a capacity
        # limit of the deployment, not a fault, and not what this run measures.
        "DATABASE_POOL_SIZE": str(people),
        # The API's configured limit, not the benchmark's unreachable one: the load keeps under it.
        "API_RATE_LIMIT": api_rate,
        # Never a real provider, whatever keys this machine has: the offline provider answers.
        "GEMINI_API_KEY": "",
        "OPENAI_API_KEY": "",
        "AI_PROVIDER_ORDER": "offline",
        "SENTRY_DSN": "",
        "EMAIL_HOST": "",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    }


def collectstatic(env: dict[str, str], *, log: Path) -> None:
    """Production serves static files under hashed names from a manifest, collected as in the image (less
    the compressed copies: see config/load/static_settings.py)."""
    with log.open("ab") as output:
        done = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=BASE_DIR,
            env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.load.static_settings"},
            stdout=output,
            stderr=output,
            check=False,
        )
    if done.returncode:
        raise SystemExit(f"collectstatic failed with status {done.returncode}; see {log}.")


@contextmanager
def celery_worker(
    env: dict[str, str], *, log: Path, concurrency: int, ready_within: float
) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A config worker` as `make worker` starts it, ready once a ping has gone through it."""
    command = [
        *(sys.executable, "-m", "celery", "-A", "config", "worker"),
        *("--loglevel", "WARNING", "--concurrency", str(concurrency)),
    ]
    with log.open("wb") as output:
        worker = subprocess.Popen(command, cwd=BASE_DIR, env={**os.environ, **env}, stdout=output, stderr=output)  # noqa: S603
    try:
        _wait_for_worker(worker, log, ready_within)
        yield worker
    finally:
        stop(worker, timeout=30)


def _wait_for_worker(worker: subprocess.Popen[bytes], log: Path, ready_within: float) -> None:
    from config.celery import ping

    deadline = time.monotonic() + ready_within
    result = ping.delay("ready")
    while not result.ready():
        if worker.poll() is not None:
            raise SystemExit(f"The Celery worker exited with status {worker.returncode}; see {log}.")
        if time.monotonic() > deadline:
            raise SystemExit(f"The Celery worker did not answer a ping within {ready_within:g} s; see {log}.")
        time.sleep(0.2)
    result.get(timeout=1)
    result.forget()


def stop(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM (a warm shutdown for Celery, a graceful one for gunicorn), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def first_worker_error(log: Path) -> str:
    """The first error the Celery worker logged (a task that raised, a lost connection), in Celery's format:
    "[time: ERROR/ForkPoolWorker-1] Task ... raised unexpected: ..."."""
    if not log.exists():
        return ""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if ": ERROR/" in line or ": CRITICAL/" in line:
            return line.strip()[:500]
    return ""


@contextmanager
def redis_keys_removed_after(url: str) -> Iterator[int]:
    """Remove afterwards every key the run created in this Redis database (queues, results, the cache),
    leaving keys that were there before. Yields how many there were."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        before = set(client.scan_iter(count=1000))
    except redis.RedisError as error:
        raise SystemExit(f"make load cannot use Redis at {url}: {error}") from None
    try:
        yield len(before)
    finally:
        created = [key for key in client.scan_iter(count=1000) if key not in before]
        for start in range(0, len(created), 500):
            client.delete(*created[start : start + 500])
        client.close()
