"""The production cache: Django's Redis cache, made to degrade instead of failing when Redis is unreachable.

Nothing Greenlight keeps in the cache is the only copy of anything (sessions are in the database): it holds
rate-limit counts, the AI circuit breakers, the readiness-snapshot debounce and short-lived markers. So
while Redis is down, pages keep serving: reads miss, writes are dropped, `add` reports the key as added and
`incr` counts from the delta. Rate limits, the assistant's per-minute cap and the circuit breakers
therefore fail open (they let requests through) until Redis is back. One consequence to know: allauth's
protection against replaying a TOTP code within its 30 seconds is off during an outage.

After a failure the cache does not ask Redis again for `RETRY_AFTER_SECONDS`, so a Redis that hangs rather
than refuses costs one socket timeout per process and interval, not one per call. Failures are logged once
per `LOG_EVERY_SECONDS` per process, with how many calls degraded since, and the recovery once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0
# Unreachable or too slow. Other Redis errors (a wrong type, a script error) are bugs and still raise.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)

T = TypeVar("T")


class _Outage:
    """Whether one Redis location is treated as down, shared by every thread of the process (Django makes a
    cache object per thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.logged_at = 0.0
        self.degraded_calls = 0

    def skipping(self) -> bool:
        return self.down_since is not None and time.monotonic() < self.retry_at

    def failed(self, location: str, operation: str, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self.degraded_calls += 1
            self.retry_at = now + RETRY_AFTER_SECONDS
            first = self.down_since is None
            if first:
                self.down_since = now
            if not first and now - self.logged_at < LOG_EVERY_SECONDS:
                return
            self.logged_at = now
            calls, self.degraded_calls = self.degraded_calls, 0
        logger.warning(
            "Cache at %s unreachable (%s during %s): reads miss, writes are dropped and rate limits let "
            "requests through until it answers; %d call(s) degraded since the last report.",
            location,
            type(error).__name__,
            operation,
            calls,
        )

    def skipped(self) -> None:
        with self._lock:
            self.degraded_calls += 1

    def answered(self, location: str) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            seconds, self.down_since = time.monotonic() - self.down_since, None
            self.degraded_calls = 0
        logger.info("Cache at %s answers again after about %.0f s.", location, seconds)


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(location: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(location, _Outage())


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)
        self._outage = _outage_for(self._location)

    def _degrade(self, operation: str, call: Callable[[], T], fallback: T) -> T:
        if self._outage.skipping():
            self._outage.skipped()
            return fallback
        try:
            result = call()
        except UNREACHABLE as error:
            self._outage.failed(self._location, operation, error)
            return fallback
        self._outage.answered(self._location)
        return result

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        # "Added": callers use add as a lock or a first-hit marker, and must go ahead rather than wait.
        return self._degrade("add", lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), True)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._degrade("get", lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._degrade("set", lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._degrade("touch", lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._degrade("delete", lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        return self._degrade("get_many", lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._degrade("has_key", lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        # As if the count started now: a limiter comparing it with its limit lets the request through.
        return self._degrade("incr", lambda: super(ResilientRedisCache, self).incr(key, delta, version), delta)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        # Django's contract: the keys that could not be stored.
        return self._degrade(
            "set_many", lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data)
        )

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        keys = list(keys)
        self._degrade("delete_many", lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def clear(self) -> None:
        self._degrade("clear", lambda: super(ResilientRedisCache, self).clear(), None)
