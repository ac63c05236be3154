"""URLs for `make bench`: the whole project plus a minimal view that every measurement is set beside."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


@login_not_required
def baseline(request: HttpRequest) -> HttpResponse:
    """Does nothing, so its cost is the cost of the middleware stack and the test client alone."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("__bench__/baseline", baseline, name="bench_baseline"),
    path("", include("config.urls")),
]
