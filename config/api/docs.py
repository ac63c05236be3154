"""The OpenAPI schema (`/api/schema/`) and its readable docs page (`/api/docs/`), open to everyone: they
describe the API, they hold no data.

The docs page is ours, not drf-spectacular's Redoc view: that one loads fonts from Google and runs an
inline script, which our Content Security Policy refuses. Ours serves Redoc from
drf-spectacular-sidecar's static files and starts it from static/js/api-docs.js, which carries the
page's nonce and gives it to the `<style>` elements Redoc adds. Styles and scripts stay under the site's
policy; only Redoc's search worker needs more (DOCS_CSP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from accounts.scopes import SCOPE_DESCRIPTIONS
from config.api.idempotency import KEPT_FOR
from config.api.pagination import ApiCursorPagination

schema = SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[])

# The one relaxation this page needs: Redoc's search runs in a Web Worker made from a `blob:` URL. Only a
# script already allowed by the nonce can make one, so this opens nothing to another origin; the rest of
# the policy is the site's, unchanged.
DOCS_CSP = {**cast("dict[str, list[str]]", settings.SECURE_CSP), "worker-src": [CSP.SELF, "blob:"]}

PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True)
class RateLimit:
    requests: int
    period: str

    def __str__(self) -> str:
        article = "an" if self.period == "hour" else "a"
        return f"{self.requests:,} requests {article} {self.period}"


def rate_limit() -> RateLimit | None:
    """The per-key limit from DRF's throttle rate (`600/minute`), or None when throttling is off."""
    rate = cast("dict[str, Any]", settings.REST_FRAMEWORK).get("DEFAULT_THROTTLE_RATES", {}).get("api")
    if not rate:
        return None
    requests, _slash, period = str(rate).partition("/")
    return RateLimit(int(requests), PERIODS.get(period[:1], period))


@login_not_required
@require_safe
@csp_override(DOCS_CSP)
def docs(request: HttpRequest) -> HttpResponse:
    schema_url = reverse("api_schema")
    return render(
        request,
        "api/docs.html",
        {
            "schema_url": schema_url,
            "schema_json_url": reverse("api_schema", query={"format": "json"}),
            "example_url": request.build_absolute_uri(reverse("api_organisation_list")),
            "scopes": [(scope.value, description) for scope, description in SCOPE_DESCRIPTIONS.items()],
            "page_size": ApiCursorPagination.page_size,
            "max_page_size": ApiCursorPagination.max_page_size,
            "idempotency_hours": int(KEPT_FOR.total_seconds() // 3600),
            "rate_limit": rate_limit(),
        },
    )
