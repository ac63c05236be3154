"""The partner API in the benchmark: latency and queries in `make bench`, requests per second in
`make bench-api`.

In `make bench` (config/bench.py runs this module's seeder after every app's, so all the data exists)
an API key of the large organisation reads readiness, the evidence register, the plan's tasks, the
policies, the audit log and the control library, each beside the baseline view requested with the same
key. The seeder also checks that every list's first page costs the same number of queries for the large
organisation as for a small one, and prints the counts as notes.

`make bench-api` (`python -m config.bench_api`) seeds the same throwaway PostgreSQL database, starts
gunicorn as the Dockerfile does (config.asgi on uvicorn workers, two of them, on a free loopback port)
and measures requests per second for GET readiness, GET evidence and the baseline view with a small
concurrent client, then stops gunicorn and drops the database. It refuses SQLite: production runs on
PostgreSQL, and SQLite would measure its own locking.

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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.bench import BASE_DIR, BASELINE_URL, UNREACHED_API_RATE, BenchData, Scenario

LARGE_KEY, SMALL_KEY = "large", "small"
SMALL_SLUG = "bench-small"
SMALL_ROWS = 3
API_BUDGET_MS = 50


def _in_organisation(data: BenchData) -> dict[str, Any]:
    return {"organisation_slug": data.organisation.slug}


@dataclass(frozen=True)
class ApiList:
    """A list endpoint whose first page must cost the same queries whatever the organisation holds."""

    label: str
    url: str
    # Rows behind the list for an organisation (None: the library, the same for everyone).
    rows: Callable[[Any], int] | None
    organisation_scoped: bool = True
    # For the library: the query that makes the small list.
    small_query: dict[str, str] | None = None


def _count(model_path: str) -> Callable[[Any], int]:
    def count(organisation: Any) -> int:
        from django.apps import apps

        return int(apps.get_model(model_path).objects.filter(organisation=organisation).count())

    return count


LISTS = (
    ApiList("evidence", "api_evidence_list", _count("evidence.Evidence")),
    ApiList("tasks", "api_task_list", _count("assessments.PlanTask")),
    ApiList("policies", "api_policy_list", _count("policies.Policy")),
    ApiList("audit events", "api_audit_event_list", _count("accounts.AuditEvent")),
    # The library is the same for everyone: a full first page against a page of two.
    ApiList("controls", "api_control_list", None, organisation_scoped=False, small_query={"page_size": "2"}),
)


# --- Seeding --------------------------------------------------------------------------------------
def seed(data: BenchData) -> None:
    from accounts.models import Organisation

    data.api_keys[LARGE_KEY] = _issue_key(data.organisation, data.users["owner"])
    small, small_owner = _seed_small_organisation()
    data.api_keys[SMALL_KEY] = _issue_key(small, small_owner)
    data.counts["organisations"] = Organisation.objects.count()
    data.notes.extend(_constant_query_notes(data, small))


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


def _seed_small_organisation() -> tuple[Any, Any]:
    """A few rows of every listed kind, each with the relations the large organisation's rows have
    (owners, mapped controls, file revisions, published versions), so the lists take the same paths."""
    from django.test import override_settings
    from django.utils import timezone

    from accounts.models import AuditEvent, Membership, Organisation, User
    from accounts.roles import Role
    from accounts.tests.factories import UserFactory
    from assessments.models import PlanTask
    from compliance.models import Control
    from evidence.bench import _seed_register
    from policies.models import Policy, PolicyStatus, PolicyVersion

    now = timezone.now()
    organisation = Organisation.objects.create(name="Small Florist Ltd", slug=SMALL_SLUG)
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        owner, member = User.objects.bulk_create(UserFactory.build_batch(2))
    Membership.objects.create(organisation=organisation, user=owner, role=Role.OWNER)
    Membership.objects.create(organisation=organisation, user=member, role=Role.MEMBER)
    controls = list(Control.objects.live().order_by("pk")[: SMALL_ROWS * 2])

    _seed_register(organisation, start=0, count=SMALL_ROWS)
    for n in range(SMALL_ROWS):
        task = PlanTask.objects.create(
            organisation=organisation,
            title=f"Turn on backups for shop till {n + 1}",
            owner=member,
            due_date=now.date() + timedelta(days=7 * n),
        )
        task.controls.set(controls[n : n + 2])
        policy = Policy.objects.create(
            organisation=organisation, title=f"Policy {n + 1}", status=PolicyStatus.PUBLISHED, owner=owner
        )
        policy.controls.set(controls[n : n + 2])
        PolicyVersion.objects.create(
            organisation=organisation,
            policy=policy,
            number=1,
            title=policy.title,
            created_by=owner,
            approved_by=owner,
            approved_at=now,
            published_at=now,
        )
        AuditEvent.objects.create(
            organisation=organisation,
            actor=owner,
            actor_label=owner.email,
            action="member.invited",
            object_type="membership",
            object_id=str(n),
            summary=f"{owner.email} made change number {n}",
        )
    return organisation, owner


def _constant_query_notes(data: BenchData, small: Any) -> list[str]:
    from django.urls import NoReverseMatch, reverse

    notes = []
    for api_list in LISTS:
        try:
            large_path = reverse(api_list.url, kwargs=_in_organisation(data) if api_list.organisation_scoped else None)
            small_path = (
                reverse(api_list.url, kwargs={"organisation_slug": small.slug})
                if api_list.organisation_scoped
                else reverse(api_list.url, query=api_list.small_query)
            )
        except NoReverseMatch:
            notes.append(f"API {api_list.label} list: not yet available (no URL named {api_list.url}).")
            continue
        large_status, large_queries = _page_one_queries(large_path, data.api_keys[LARGE_KEY])
        small_status, small_queries = _page_one_queries(small_path, data.api_keys[SMALL_KEY])
        if (large_status, small_status) != (200, 200):
            notes.append(f"API {api_list.label} list: answered {large_status} and {small_status} (NOT MEASURED).")
            continue
        verdict = "constant" if large_queries == small_queries else "NOT CONSTANT"
        if api_list.rows is None:
            sizes = "for a full page of the library, with a page of 2"
        else:
            sizes = f"with {api_list.rows(data.organisation):,} rows, with {api_list.rows(small):,}"
        notes.append(f"API {api_list.label}, first page: {large_queries} queries {sizes}: {small_queries} ({verdict}).")
    return notes


def _page_one_queries(path: str, secret: str) -> tuple[int, int]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"Authorization": f"Bearer {secret}"})
    client.get(path, secure=True)  # the key's first use is recorded: a write the next request skips
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path, secure=True).status_code
    return status, len(queries.captured_queries)


# --- Scenarios for `make bench` -----------------------------------------------------------------
def _api(name: str, url: str, *, scoped: bool = True, query: dict[str, str] | None = None) -> Scenario:
    return Scenario(
        f"api: {name}",
        url,
        as_key=LARGE_KEY,
        kwargs=_in_organisation if scoped else None,
        query=query or {},
        budget_ms=API_BUDGET_MS,
    )


SCENARIOS = [
    _api("readiness, every framework", "api_readiness"),
    _api("evidence, first page (10,000)", "api_evidence_list"),
    _api("tasks, first page", "api_task_list"),
    _api("policies, first page", "api_policy_list"),
    _api("audit events, first page", "api_audit_event_list"),
    _api("controls, first page", "api_control_list", scoped=False),
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
def gunicorn(database_name: str, *, workers: int, log: Path) -> Iterator[Server]:
    """gunicorn serving config.asgi on uvicorn workers, as the Dockerfile starts it, logging to `log`."""
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
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        # Our own fixed command line: the venv's gunicorn and numbers.
        server = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=output, stderr=output)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with status {server.returncode} before answering; see {log}.")
            try:
                if httpx2.get(f"{base}/__bench__/baseline", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer within 60 seconds; see {log}.")
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


def require_postgresql() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise SystemExit(
            "make bench-api measures throughput on PostgreSQL, as production runs: set DATABASE_URL, for "
            "example DATABASE_URL=postgres://postgres@127.0.0.1:5432/greenlight make bench-api "
            f"(now: {'unset, so SQLite' if not url else url.split(':', 1)[0]})."
        )


def throughput(*, seconds: float, concurrency: int, workers: int) -> None:
    import logging

    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment, teardown_test_environment
    from django.urls import NoReverseMatch, reverse

    from config.bench import bench_settings, local_bench_modules, seed_all, throwaway_database

    logging.getLogger("django.request").setLevel(logging.ERROR)
    started = time.perf_counter()
    setup_test_environment()
    try:
        with throwaway_database() as database_name, override_settings(**bench_settings()):
            data, seeded_in = seed_all(local_bench_modules())
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

            print(f"Greenlight API throughput on {connection.vendor} (throwaway database {database_name})")
            print(f"Seeded {', '.join(f'{n:,} {what}' for what, n in data.counts.items())} in {seeded_in:.1f} s.")
            print(
                f"gunicorn, config.asgi on {workers} uvicorn workers, production settings; {concurrency} "
                f"concurrent keep-alive clients for {seconds:g} s per target after a 1 s warm-up.\n"
            )
            header = (
                f"{'target':<28}  {'requests':>8}  {'req/s':>8}  {'x base':>6}  {'p50 ms':>7}  {'p95 ms':>7}  errors"
            )
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
    finally:
        teardown_test_environment()
    print(f"\nDone in {time.perf_counter() - started:.1f} s. 'x base': requests per second against the baseline view.")


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
