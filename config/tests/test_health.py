"""/healthz and /readyz, with their dependencies broken for real rather than mocked."""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import load_backend

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_answers_anonymous_callers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_reports_every_check_when_all_is_well(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "cache", "broker"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["migrations"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_cache_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.fixture
def unreachable_broker(settings):
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery reads Django's settings live; a value set on app.conf shadows them until removed.
    shadowed = app.conf.changes.get("broker_url")
    app.conf.broker_url = UNREACHABLE_REDIS
    yield
    app.conf.changes.pop("broker_url", None)
    if shadowed is not None:
        app.conf.changes["broker_url"] = shadowed


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_broker")
def test_readyz_is_unavailable_when_the_broker_is_unreachable(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "error"


def _unreachable_copy_of(settings_dict: dict, tmp_path) -> dict:
    broken = {**settings_dict}
    if broken["ENGINE"] == "django.db.backends.sqlite3":
        broken["NAME"] = str(tmp_path / "no-such-folder" / "greenlight.sqlite3")
    else:
        broken.update(HOST="127.0.0.1", PORT=1)
        # Without the pool: Django keeps one pool per alias, and this copy would borrow the live one's.
        options = {key: value for key, value in broken.get("OPTIONS", {}).items() if key != "pool"}
        broken["OPTIONS"] = {**options, "connect_timeout": 1}
    return broken


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_database_is_unreachable(client, tmp_path):
    working = connections[DEFAULT_DB_ALIAS]
    # A real connection of the configured engine, pointed where no database can be opened.
    broken = load_backend(working.settings_dict["ENGINE"]).DatabaseWrapper(
        _unreachable_copy_of(working.settings_dict, tmp_path), DEFAULT_DB_ALIAS
    )
    connections[DEFAULT_DB_ALIAS] = broken
    try:
        response = client.get("/readyz")
    finally:
        connections[DEFAULT_DB_ALIAS] = working
        broken.close()

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "error"
    assert "OperationalError" in checks["database"]["error"]


@pytest.mark.django_db
def test_readyz_is_unavailable_while_a_migration_is_not_applied(client):
    connection = connections[DEFAULT_DB_ALIAS]
    app_label, name = MigrationExecutor(connection).loader.graph.leaf_nodes()[0]
    MigrationRecorder(connection).record_unapplied(app_label, name)

    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["migrations"]["status"] == "error"
    assert "1 migration(s) not applied" in checks["migrations"]["error"]
