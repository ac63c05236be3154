"""The partner API in the benchmark: latency and queries in `make bench`, requests per second in
`make bench` (on PostgreSQL) and `make bench-api`.

In `make bench` (config/bench.py runs this module's seeder after every app's, so all the data exists)
an API key of the large organisation reads readiness, the evidence register, the plan's tasks, the
policies, the audit log and the control library, each beside the baseline view requested with the same
key. Each list's first page is also requested with a key of the small organisation (for the library,
as a page of two), and the table says whether the two cost the same number of queries.

The throughput section (`throughput_section`, run at the end of `make bench` on PostgreSQL, and alone by
`make bench-api`, `python -m config.bench_api`) starts gunicorn as the Dockerfile does (config.asgi on
uvicorn workers, two of them, on a free loopback port) over the seeded throwaway database and measures
requests per second for GET readiness, GET evidence and the baseline view with a small concurrent
client, then stops gunicorn. It refuses SQLite: production runs on PostgreSQL, and SQLite would measure
its own locking.

    python -m config.bench_api [--seconds 10] [--concurrency 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.bench import (
    BASE_DIR,
    BASELINE_URL,
    SMALL_ROWS,  # noqa: F401  (kept importable from here, where it used to live)
    SMALL_SLUG,  # noqa: F401
    UNREACHED_API_RATE,
    BenchData,
    Scenario,
    Small,
)

LARGE_KEY, SMALL_KEY = "large", "small"
API_BUDGET_MS = 50


def _in_organisation(data: BenchData) -> dict[str, Any]:
    return {"organisation_slug": data.organisation.slug}


# --- Seeding --------------------------------------------------------------------------------------
def seed(data: BenchData) -> None:
    """A key with every scope for the large organisation and one for the small one (config/bench.py
    made it; each app's seeder gave it a few rows of its kind)."""
    data.api_keys[LARGE_KEY] = _issue_key(data.organisation, data.users["owner"])
    if data.small_organisation is not None:
        data.api_keys[SMALL_KEY] = _issue_key(data.small_organisation, data.users["small owner"])


def _issue_key(organisation: Any, owner: Any) -> str:
    """A key with every scope, made as an owner would make it in settings."""
    from accounts.audit import Actor
    from accounts.scopes import Scope
    from accounts.services_api import api_key_create

    issued = api_key_create(
        organisation=organisation,
        name="Benchmark",
        scopes=[scope.value for scope in Scope],
        expires_at=None,
        actor=Actor(user=owner),
    )
    return issued.secret


# --- Scenarios for `make bench` -----------------------------------------------------------------
def _api(name: str, url: str, *, scoped: bool = True, small: Small | None = None) -> Scenario:
    return Scenario(
        f"api: {name}",
        url,
        as_key=LARGE_KEY,
        kwargs=_in_organisation if scoped else None,
        budget_ms=API_BUDGET_MS,
        issue=9,
        small=small,
    )


def _small_in_organisation(data: BenchData) -> dict[str, Any]:
    assert data.small_organisation is not None
    return {"organisation_slug": data.small_organisation.slug}


# The small key reads its own organisation; the library is the same for everyone, so its small case is
# a page of two controls against a full page.
SMALL = Small(kwargs=_small_in_organisation)
SCENARIOS = [
    _api("readiness, every framework", "api_readiness", small=SMALL),
    _api("evidence, first page (10,000)", "api_evidence_list", small=SMALL),
    _api("tasks, first page", "api_task_list", small=SMALL),
    _api("policies, first page", "api_policy_list", small=SMALL),
    _api("audit events, first page", "api_audit_event_list", small=SMALL),
    _api(
        "controls, first page",
        "api_control_list",
        scoped=False,
        small=Small(label="a page of 2 controls", as_key=LARGE_KEY, query={"page_size": "2"}),
    ),
]


# --- Throughput through gunicorn (`make bench-api`) ----------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Throughput:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int
    first_error: str

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url_for(name: str) -> str:
    """The configured DATABASE_URL, pointing at database `name` (the throwaway one)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Server:
    url: str
    log: Path

    def first_error(self) -> str:
        """The first error gunicorn's workers logged: its message and the exception's last line."""
        import json

        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") in ("ERROR", "CRITICAL"):
                cause = str(record.get("exception", "")).strip().splitlines()[-1:] or [""]
                return f"{record.get('message', '')} {cause[0]}".strip()
        return ""


@contextmanager
def gunicorn(
    database_name: str,
    *,
    workers: int,
    log: Path,
    overrides: dict[str, str] | None = None,
    ready_path: str = "/__bench__/baseline",
    ready_within: float = 60,
) -> Iterator[Server]:
    """gunicorn serving config.asgi on uvicorn workers, as the Dockerfile starts it, logging to `log`.

    `overrides` replace environment variables set here (`make load` serves the project's own settings,
    with Redis and the API's real limit); the server is up once `ready_path` answers 200, which it must
    within `ready_within` seconds."""
    import httpx2

    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url_for(database_name),
        # Production settings, as served; plain HTTP on loopback, so no HTTPS redirect.
        "GREENLIGHT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_RATE_LIMIT": UNREACHED_API_RATE,
        # The bench URLs add the baseline view to the project's.
        "DJANGO_SETTINGS_MODULE": "config.bench_settings",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        **(overrides or {}),
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "config.asgi:application",
        "--worker-class",
        "uvicorn_worker.UvicornWorker",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        # As the Dockerfile: idle connections outlive the clients' pauses (see the Dockerfile's comment).
        "--keep-alive",
        "75",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        # Our own fixed command line: the venv's gunicorn and numbers.
        server = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=output, stderr=output)  # noqa: S603
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with status {server.returncode} before answering; see {log}.")
            try:
                if httpx2.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer within {ready_within:g} seconds; see {log}.")
            time.sleep(0.2)
        yield Server(base, log)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def hammer(base: str, target: Target, *, seconds: float, concurrency: int) -> Throughput:
    """`concurrency` clients, each with its own keep-alive connection, requesting `target` back to back
    for `seconds` after a one-second warm-up."""
    import httpx2

    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    start_line = threading.Barrier(concurrency + 1, timeout=120)

    def get(client: httpx2.Client) -> str:
        """The request's error, or "" when it answered 200."""
        try:
            status = client.get(target.path).status_code
        except httpx2.HTTPError as error:
            return type(error).__name__
        return "" if status == 200 else f"status {status}"

    def client_loop() -> None:
        with httpx2.Client(base_url=base, headers=target.headers, timeout=30, trust_env=False) as client:
            warm_until = time.perf_counter() + 1.0
            while time.perf_counter() < warm_until:
                get(client)
            start_line.wait()
            stop = time.perf_counter() + seconds
            mine: list[float] = []
            failures: list[str] = []
            while (started := time.perf_counter()) < stop:
                if error := get(client):
                    failures.append(error)
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            errors.extend(failures)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(client_loop) for _ in range(concurrency)]
        start_line.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=20, method="inclusive") if len(latencies) > 1 else [0.0] * 19
    return Throughput(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p95_ms=quantiles[18],
        errors=len(errors),
        first_error=errors[0] if errors else "",
    )


def require_postgresql(command: str = "make bench-api") -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise SystemExit(
            f"{command} measures throughput on PostgreSQL, as production runs: set DATABASE_URL, for "
            f"example DATABASE_URL=postgres://postgres@127.0.0.1:5432/greenlight {command} "
            f"(now: {'unset, so SQLite' if not url else url.split(':', 1)[0]})."
        )


def throughput_section(
    data: BenchData, database_name: str, *, seconds: float, concurrency: int = 10, workers: int = 2
) -> None:
    """Print requests per second through gunicorn for the baseline view, GET readiness and GET evidence,
    over the seeded database `database_name` (committed: gunicorn's workers read it themselves)."""
    from django.db import connection
    from django.urls import NoReverseMatch, reverse

    # gunicorn's workers read the database through their own connections.
    connection.close()
    bearer = {"Authorization": f"Bearer {data.api_keys[LARGE_KEY]}"}
    targets = [Target("baseline view", reverse(BASELINE_URL), {})]
    for name, url in (("GET readiness", "api_readiness"), ("GET evidence, first page", "api_evidence_list")):
        try:
            targets.append(Target(name, reverse(url, kwargs=_in_organisation(data)), bearer))
        except NoReverseMatch:
            print(f"{name}: not yet available (no URL named {url}); measuring the organisations list.")
            targets.append(Target("GET organisations", reverse("api_organisation_list"), bearer))

    print(
        f"API throughput: gunicorn, config.asgi on {workers} uvicorn workers, production settings; {concurrency} "
        f"concurrent keep-alive clients for {seconds:g} s per target after a 1 s warm-up, beside the baseline "
        "view served the same way.\n"
    )
    header = f"{'target':<28}  {'requests':>8}  {'req/s':>8}  {'x base':>6}  {'p50 ms':>7}  {'p95 ms':>7}  errors"
    print(header)
    print("-" * len(header))
    log = Path(tempfile.mkdtemp(prefix="greenlight-bench-api-")) / "gunicorn.log"
    with gunicorn(database_name, workers=workers, log=log) as server:
        baseline: Throughput | None = None
        for target in targets:
            result = hammer(server.url, target, seconds=seconds, concurrency=concurrency)
            baseline = baseline or result
            ratio = "" if result is baseline else f"{result.per_second / baseline.per_second:.2f}x"
            errors = f"{result.errors}" + (f" (first: {result.first_error})" if result.errors else "")
            print(
                f"{target.name:<28}  {result.requests:>8,}  {result.per_second:>8.1f}  {ratio:>6}  "
                f"{result.p50_ms:>7.1f}  {result.p95_ms:>7.1f}  {errors}"
            )
        failed = server.first_error()
    if failed:
        print(f"\nThe server logged errors; the first: {failed}\nFull log: {log}")
    else:
        shutil.rmtree(log.parent)
    print("'x base': requests per second against the baseline view.")


def throughput(*, seconds: float, concurrency: int, workers: int) -> None:
    """`make bench-api`: seed a throwaway database and print the throughput section alone."""
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment, teardown_test_environment

    from config.bench import bench_settings, local_bench_modules, quiet_logs, seed_all, throwaway_database

    quiet_logs()
    started = time.perf_counter()
    setup_test_environment()
    try:
        with throwaway_database() as database_name, override_settings(**bench_settings()):
            # Only the data: the measures the seeders would time belong to `make bench`.
            data, seeded_in = seed_all(local_bench_modules(), measuring=False)
            print(f"Greenlight API throughput on {connection.vendor} (throwaway database {database_name})")
            print(f"Seeded {', '.join(f'{n:,} {what}' for what, n in data.counts.items())} in {seeded_in:.1f} s.")
            throughput_section(data, database_name, seconds=seconds, concurrency=concurrency, workers=workers)
    finally:
        teardown_test_environment()
    print(f"\nDone in {time.perf_counter() - started:.1f} s.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.bench_api", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per target (default 10)")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent clients (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    arguments = parser.parse_args(argv)
    require_postgresql()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    throughput(seconds=arguments.seconds, concurrency=arguments.concurrency, workers=arguments.workers)


if __name__ == "__main__":
    main()
