"""Answering while PostgreSQL is unreachable: 503 with Retry-After, not a hang and not a generic 500.

`server_error` is the project's `handler500`. Django calls it for any exception it has no response for,
wherever it was raised. A middleware's `process_exception` would not do: it sees only what views raise,
while the first query of a signed-in request (loading the session, then the memberships) runs in
middleware before any view. Django calls the handler inside the exception's `except` block (asgiref
carries it into the thread on the ASGI path), so the exception is read from `sys.exc_info()`.

Only connection failures become 503: the pool could not hand out a connection in time, the server
refused or dropped it, or it is shutting down or starting up. Other database errors (a deadlock, a
cancelled query, SQLite's "database is locked") are bugs or load, and keep the ordinary 500 page.
(On SQLite, used without services, a database file that cannot be opened counts as the outage.)
Pages get `templates/503.html`, a stand-alone page like 500.html (the base layout's context would
query the database again); the API gets problem details, as every other API error. The first failure
also has the pool check its idle connections, so those a restart broke are gone before it is back.
"""

from __future__ import annotations

import logging
import sqlite3
import sys

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from config.problems import TITLES

logger = logging.getLogger(__name__)

# A PostgreSQL restart takes seconds; a client asked to wait longer would just look broken.
RETRY_AFTER_SECONDS = 15
API_PREFIX = "/api/"
# Connection exceptions (class 08), and the server shutting down, crashed or not yet accepting connections.
CONNECTION_SQLSTATES = ("57P01", "57P02", "57P03")


def is_connection_failure(error: BaseException | None) -> bool:
    """True when `error` means PostgreSQL could not be reached, not that a query went wrong."""
    if isinstance(error, OperationalError | InterfaceError):
        error = error.__cause__
    if isinstance(error, sqlite3.OperationalError):
        # SQLite has no server: the nearest thing to an outage is a database file that cannot be opened.
        return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_CANTOPEN
    if not isinstance(error, psycopg.Error):
        return False
    if isinstance(error, psycopg.InterfaceError):
        # Also raised for misuse (a closed cursor); only a closed or lost connection is an outage.
        return "connection" in str(error)
    sqlstate = error.sqlstate
    if sqlstate is None:
        # Raised by the client itself: refused, dropped, timed out, or the pool had none to give in time.
        return isinstance(error, psycopg.OperationalError)
    return sqlstate.startswith("08") or sqlstate in CONNECTION_SQLSTATES


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if not is_connection_failure(error):
        return defaults.server_error(request)
    _discard_broken_connections()
    response = database_unavailable(request)
    logger.error(
        "Database unreachable: answered %s %s with 503 (%s: %s)",
        request.method,
        request.path,
        type(error).__name__,
        " ".join(str(error).split())[:200],
    )
    # Django would log the same request again with a traceback; one line per request is enough in an outage.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _discard_broken_connections() -> None:
    """Check every idle connection in this process's pool now, dropping the broken ones.

    When one connection failed, a restart has usually broken them all. The pool checks a connection as
    it hands it out, but pauses between failed checks (1 s, then 2 s), so a request meeting three broken
    ones in a row runs out of time: better to find them all at the first failure, in one quick pass.
    """
    pool = getattr(connections[DEFAULT_DB_ALIAS], "pool", None)
    if pool is None:
        return
    try:
        pool.check()
    except Exception:  # a pool closed or never opened has nothing to check; the 503 goes out either way
        logger.warning("Could not check the database pool after a connection failure", exc_info=True)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith(API_PREFIX):
        problem = {
            "type": "about:blank",
            "title": TITLES.get(503, "Service unavailable"),
            "status": 503,
            "detail": f"Greenlight cannot reach its database just now. Retry in {RETRY_AFTER_SECONDS} seconds.",
        }
        response = JsonResponse(problem, status=503, content_type="application/problem+json")
    else:
        page = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
