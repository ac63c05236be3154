"""Liveness, readiness and metrics endpoints for the platform that runs Greenlight."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.observability.metrics import metrics_exposition


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answering; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_migrations() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        raise RuntimeError(f"{len(unapplied)} migration(s) not applied")
    return "ok"


def _check_cache() -> str:
    key = "readyz:probe"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was stored")
    return "ok"


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
    return "ok"


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": _check_database,
    "migrations": _check_migrations,
    "cache": _check_cache,
    "broker": _check_broker,
}
# Checks that read the database, skipped when it did not answer.
NEEDS_DATABASE = {"migrations"}


@login_not_required
@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: database reachable, migrations applied, cache and broker answering."""
    checks: dict[str, dict[str, object]] = {}
    for name, check in READINESS_CHECKS.items():
        if name in NEEDS_DATABASE and checks.get("database", {}).get("status") == "error":
            # Asking again would wait out the pool's timeout a second time, and say nothing new.
            checks[name] = {"status": "skipped", "reason": "the database is unreachable"}
            continue
        started = time.perf_counter()
        try:
            checks[name] = {"status": check()}
        except Exception as error:  # every failure is reported, none is raised
            checks[name] = {"status": "error", "error": f"{type(error).__name__}: {error}"[:200]}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    ready = all(check["status"] != "error" for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _metrics_allowed(request: HttpRequest) -> bool:
    if settings.METRICS_TOKEN:
        header = request.headers.get("Authorization", "")
        if hmac.compare_digest(header.encode(), f"Bearer {settings.METRICS_TOKEN}".encode()):
            return True
    return request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS


@login_not_required
@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return JsonResponse({"title": "Forbidden", "status": 403}, status=403, content_type="application/problem+json")
    return HttpResponse(metrics_exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
