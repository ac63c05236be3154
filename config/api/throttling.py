"""Per-key (or per-person) request limits. Counts live in the default cache: Redis when REDIS_URL is
set, so every web process shares them. A refused request gets 429 with `Retry-After`."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from config.api.access import principal_id


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.auth is None and not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal_id(request)}
