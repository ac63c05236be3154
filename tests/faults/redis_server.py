"""A private `redis-server` for fault tests: started on a free loopback port with no persistence, so a test
can kill it mid-journey and start it again on the same port without touching the Redis others share.

`redis_server` starts one for a test; `app_on_redis` points the cache and Celery at it (Celery out of the
suite's eager mode) and puts everything back afterwards. `unreachable_redis_url` and `SilentServer` give a
Redis nobody answers (nothing listening) and one that accepts connections and never replies (a frozen or
partitioned server), for the unit tests that need no redis-server at all.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import pools

from config.celery import app

REDIS_SERVER = shutil.which("redis-server")
# The same client options as config/settings.py gives the production cache.
CACHE_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
START_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_redis_url() -> str:
    """A loopback port nothing listens on: connections are refused at once, as when Redis has stopped."""
    return f"redis://127.0.0.1:{free_port()}/0"


class RedisServer:
    """One redis-server process; `kill()` and `start()` again reuse the port, as a restarted Redis would."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        assert REDIS_SERVER, "redis-server is not installed"
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
            # Nothing written to disk: a restart comes back empty, as a cache-only Redis does.
            *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            *("--logfile", str(self.folder / "redis.log")),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start:\n{self.log()}")
            with contextlib.suppress(redis.RedisError):
                if self.client().ping():
                    return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not answer within {START_SECONDS} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: Redis stops at once, with no goodbye to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_connect_timeout=1, socket_timeout=2)

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


class SilentServer:
    """Accepts connections and never answers: a Redis that froze, or a network that drops its replies."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> SilentServer:
        self._listener.settimeout(0.1)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                peer, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(peer)  # held open, never read from or written to

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for peer in self._held:
            peer.close()
        self._listener.close()


def cache_settings(url: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "greenlight",
            "OPTIONS": dict(CACHE_OPTIONS),
        }
    }


def forget_broker_connections() -> None:
    """Celery keeps its connection and producer pools, and its result store, for the broker it first used; a
    test that moves it to another broker must drop them, or it would keep talking to the old one. kombu
    registers pools per connection URL process-wide, so its registry is reset too: a pool closed here is
    never handed out again."""
    pools.reset()
    app.__dict__["_pool"] = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    # The result store is cached on the app (or per thread, for one that is not thread-safe).
    vars(app)["_backend_cache"] = None
    local = vars(app).get("_local")
    if local is not None:
        vars(local).pop("backend", None)


@contextlib.contextmanager
def celery_on(url: str) -> Iterator[None]:
    """Celery out of eager mode, with `url` as broker and result store, for the duration only.

    Celery reads Django's settings live; values set on `app.conf` shadow them until removed, so the
    overrides are taken out again afterwards rather than overwritten with a snapshot (as in
    config/tests/test_celery_live.py)."""
    overrides = {"task_always_eager": False, "broker_url": url, "result_backend": url}
    changes: dict[str, Any] = app.conf.changes  # type: ignore[assignment]
    shadowed = {key: changes[key] for key in overrides if key in changes}
    forget_broker_connections()
    app.conf.update(overrides)
    try:
        yield
    finally:
        for key in overrides:
            changes.pop(key, None)
        changes.update(shadowed)
        forget_broker_connections()


# Named apart from their functions, so a test module imports them without its parameters shadowing the import.
@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    if not REDIS_SERVER:
        pytest.skip("needs redis-server (the Redis server binary) to start a private Redis")
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(name="app_on_redis")
def app_on_redis_fixture(redis_server: RedisServer, settings: Any) -> Iterator[RedisServer]:
    """The cache and Celery on the private Redis, as production has them on REDIS_URL."""
    settings.CACHES = cache_settings(redis_server.url())
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with celery_on(redis_server.url()):
        yield redis_server
