"""Per-key (or per-person) request limits. Counts live in the default cache: Redis when REDIS_URL is
set, so every web process shares them. A refused request gets 429 with `Retry-After`."""

from __future__ import annotations

import math
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.api.access import principal_id


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "api"
    duration: int  # seconds in the rate's period, set by SimpleRateThrottle.__init__

    def get_rate(self) -> str | None:
        # DRF binds THROTTLE_RATES when the class is defined; reading the settings on each request lets
        # an override (a test, or a settings change in a running shell) take effect.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.auth is None and not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal_id(request)}

    def wait(self) -> float | None:
        """Whole seconds, at least one: `Retry-After: 0` would invite an immediate retry that fails."""
        seconds = super().wait()
        if seconds is None:  # more requests recorded than the rate allows (it was lowered)
            seconds = self.duration - (self.now - self.history[-1]) if self.history else self.duration
        return float(max(1, math.ceil(seconds)))
