"""`make bench`: how fast Greenlight's pages are against a large organisation, beside a do-nothing baseline.

It creates a throwaway test database on the configured engine (SQLite file or PostgreSQL from
`DATABASE_URL`), seeds a large organisation plus a second one, then requests each scenario through the
full middleware stack with Django's test client. For every scenario it prints the median and p95
latency, the queries per request and the peak Python memory of one request, each beside the baseline
view measured in the same run as the same user. It prints; it never asserts timings.

Apps add scenarios without touching this file: an optional `<app>/bench.py` exposing `SCENARIOS`
(a list of `Scenario`) and, if the scenarios need data of their own, `seed(data: BenchData) -> None`.
Modules in PROJECT_BENCH_MODULES (the partner API's, config/bench_api.py) run after every app's, so
their seeders see all the data. `python -m config.bench_api` measures throughput through gunicorn.

    python -m config.bench [--runs 30] [--warmup 3] [--only audit]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import Organisation, User

BASE_DIR = Path(__file__).resolve().parent.parent
BASELINE_URL = "bench_baseline"
PROJECT_BENCH_MODULES = ("config.bench_api",)
# Benchmarks measure the work, not the limiter: an API rate limit no run reaches.
UNREACHED_API_RATE = "1000000/minute"

MEMBERS = 60
INVITATIONS = 40
AUDIT_EVENTS = 5_000
OTHER_MEMBERS = 10
OTHER_AUDIT_EVENTS = 500


@dataclass
class BenchData:
    """What the seeders built: the large organisation, a second one, and a user per role by name."""

    organisation: Organisation
    other_organisation: Organisation
    users: dict[str, User]
    counts: dict[str, int] = field(default_factory=dict)
    # API keys' secrets by name, for scenarios with `as_key` (config/bench_api.py makes them).
    api_keys: dict[str, str] = field(default_factory=dict)
    # Measurements that are not requests (a seeder's own timings), printed before the table.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    """One request to measure.

    `url` is a URL name, reversed with `kwargs(data)` and `query`; `as_user` names one of
    `BenchData.users` (None is anonymous); `as_key` names one of `BenchData.api_keys`, sent as
    `Authorization: Bearer`; `htmx` sends `HX-Request` so the view answers with its fragment;
    `budget_ms` is printed beside the median, never enforced. A scenario whose URL name does not
    exist (yet) is listed as not available rather than failing the run.
    """

    name: str
    url: str
    as_user: str | None = None
    as_key: str | None = None
    kwargs: Callable[[BenchData], dict[str, Any]] | None = None
    query: dict[str, str] = field(default_factory=dict)
    htmx: bool = False
    expected_status: int = 200
    budget_ms: float | None = None

    def path(self, data: BenchData) -> str:
        from django.urls import reverse

        return reverse(self.url, kwargs=self.kwargs(data) if self.kwargs else None, query=self.query or None)

    def headers(self, data: BenchData) -> dict[str, str]:
        return {"Authorization": f"Bearer {data.api_keys[self.as_key]}"} if self.as_key else {}

    @property
    def caller(self) -> str:
        if self.as_key:
            return f"key {self.as_key}"
        return self.as_user or "anonymous"


SCENARIOS = [
    Scenario("login page", "account_login"),
    Scenario("readyz", "readyz"),
    Scenario("dashboard shell", "dashboard", as_user="owner"),
    Scenario("dashboard shell, two organisations", "dashboard", as_user="consultant"),
    Scenario("members and invitations", "settings_members", as_user="owner"),
    Scenario("audit log, first page", "audit_log", as_user="owner"),
    Scenario("audit log, page 40 (htmx)", "audit_log", as_user="owner", query={"page": "40"}, htmx=True),
]


@dataclass(frozen=True)
class Measurement:
    status: int
    median_ms: float
    p95_ms: float
    queries: int
    peak_kib: float


# --- Discovery ------------------------------------------------------------------------------------
def local_bench_modules() -> list[Any]:
    """The `bench` module of every installed app that lives in this repository and has one."""
    from django.apps import apps

    modules = []
    for app_config in apps.get_app_configs():
        if Path(app_config.path).resolve().parent != BASE_DIR:
            continue
        module_name = f"{app_config.name}.bench"
        try:
            modules.append(import_module(module_name))
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
    return modules + [import_module(name) for name in PROJECT_BENCH_MODULES]


# --- Seeding --------------------------------------------------------------------------------------
def seed_organisations() -> BenchData:
    """A large organisation (owner, admins, members, viewers, a consultant; invitations; a long audit
    log) and a smaller second one the consultant also belongs to. Bulk inserts keep this to seconds."""
    from django.test import override_settings
    from django.utils import timezone

    from accounts.models import AuditEvent, Invitation, Membership, Organisation, User
    from accounts.roles import Role
    from accounts.tests.factories import InvitationFactory, UserFactory

    now = timezone.now()
    organisation = Organisation.objects.create(name="Large Bakery Group Ltd", slug="bench-large")
    other = Organisation.objects.create(name="Second Client Ltd", slug="bench-second")

    # The factories hash a password per user: the fast hasher keeps seeding in seconds.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        people = User.objects.bulk_create(UserFactory.build_batch(MEMBERS + OTHER_MEMBERS))
    staff, outsiders = people[:MEMBERS], people[MEMBERS:]

    def role_for(index: int) -> Role:
        if index == 0:
            return Role.OWNER
        if index < 3:
            return Role.ADMIN
        if index == 3:
            return Role.CONSULTANT
        return Role.VIEWER if index % 4 == 0 else Role.MEMBER

    Membership.objects.bulk_create(
        [Membership(organisation=organisation, user=user, role=role_for(i)) for i, user in enumerate(staff)]
        + [Membership(organisation=other, user=user, role=Role.MEMBER) for user in outsiders]
        + [Membership(organisation=other, user=staff[3], role=Role.CONSULTANT)]
    )

    invitations = InvitationFactory.build_batch(INVITATIONS, organisation=organisation, invited_by=staff[0])
    for i, invitation in enumerate(invitations):
        invitation.created_at = now - timedelta(days=i % 10)  # a few have expired
    Invitation.objects.bulk_create(invitations)

    actions = ["member.invited", "member.joined", "member.role_changed", "organisation.renamed", "member.removed"]

    def events(target: Organisation, actors: list[User], count: int) -> Iterator[AuditEvent]:
        for i in range(count):
            actor = actors[i % len(actors)]
            yield AuditEvent(
                organisation=target,
                actor=actor,
                actor_label=actor.email,
                action=actions[i % len(actions)],
                object_type="membership",
                object_id=str(i),
                summary=f"{actor.email} made change number {i}",
                ip_address=f"192.0.2.{i % 250 + 1}",
                created_at=now - timedelta(minutes=7 * i),
            )

    AuditEvent.objects.bulk_create(events(organisation, staff[:10], AUDIT_EVENTS), batch_size=1000)
    AuditEvent.objects.bulk_create(events(other, outsiders, OTHER_AUDIT_EVENTS), batch_size=1000)

    return BenchData(
        organisation=organisation,
        other_organisation=other,
        users={"owner": staff[0], "admin": staff[1], "consultant": staff[3], "member": staff[5], "viewer": staff[4]},
        counts={
            "organisations": 2,
            "users": len(people),
            "memberships": len(people) + 1,
            "invitations": INVITATIONS,
            "audit events": AUDIT_EVENTS + OTHER_AUDIT_EVENTS,
        },
    )


# --- Measuring ------------------------------------------------------------------------------------
def measure(
    client: Client, path: str, *, htmx: bool, runs: int, warmup: int, headers: dict[str, str] | None = None
) -> Measurement:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    headers = {**(headers or {}), **({"HX-Request": "true"} if htmx else {})}

    def request() -> int:
        # secure=True so production mode's HTTPS redirect does not stand in for the page.
        return client.get(path, headers=headers, secure=True).status_code

    status = 0
    for _ in range(warmup):
        status = request()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        status = request()
        timings.append((time.perf_counter() - started) * 1000)
    # The query log is a bounded deque: once full (migrations and seeding fill it), counts read zero.
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        request()
    # Read now: `captured_queries` slices the live log, which the next request resets.
    queries = len(captured.captured_queries)
    tracemalloc.start()
    try:
        request()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Measurement(
        status=status,
        median_ms=statistics.median(timings),
        p95_ms=statistics.quantiles(timings, n=20, method="inclusive")[18],
        queries=queries,
        peak_kib=peak / 1024,
    )


def client_for(user: User | None) -> Client:
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- Reporting ------------------------------------------------------------------------------------
COLUMNS = (
    ("scenario", 36, "<"),
    ("user", 10, "<"),
    ("status", 6, ">"),
    ("median ms", 9, ">"),
    ("x base", 7, ">"),
    ("p95 ms", 8, ">"),
    ("queries", 7, ">"),
    ("+base", 6, ">"),
    ("peak KiB", 8, ">"),
    ("+base", 7, ">"),
    ("budget", 9, ">"),
)


def row(values: list[str]) -> str:
    return "  ".join(f"{value:{align}{width}}" for value, (_name, width, align) in zip(values, COLUMNS, strict=True))


def report_line(name: str, user: str, result: Measurement, base: Measurement, scenario: Scenario | None) -> str:
    status = str(result.status)
    if scenario is not None and result.status != scenario.expected_status:
        status += "!"
    budget = ""
    if scenario is not None and scenario.budget_ms is not None:
        budget = f"{scenario.budget_ms:g}" + (" over" if result.median_ms > scenario.budget_ms else "")
    is_base = scenario is None
    return row(
        [
            name[:36],
            user,
            status,
            f"{result.median_ms:.2f}",
            "" if is_base else f"{result.median_ms / base.median_ms:.1f}x",
            f"{result.p95_ms:.2f}",
            str(result.queries),
            "" if is_base else f"{result.queries - base.queries:+d}",
            f"{result.peak_kib:.0f}",
            "" if is_base else f"{result.peak_kib - base.peak_kib:+.0f}",
            budget,
        ]
    )


# --- The run --------------------------------------------------------------------------------------
def bench_settings() -> dict[str, Any]:
    """What every measurement runs under: the URLs with the baseline view, DEBUG off, no API limit hit."""
    from django.conf import settings

    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": UNREACHED_API_RATE}}
    return {"ROOT_URLCONF": "config.bench_urls", "DEBUG": False, "REST_FRAMEWORK": rest_framework}


def seed_all(modules: list[Any]) -> tuple[BenchData, float]:
    """Every seeder, then the database analysed and the seeded objects frozen; returns the seconds taken."""
    from django.db import connection

    seeding = time.perf_counter()
    data = seed_organisations()
    for module in modules:
        if hasattr(module, "seed"):
            module.seed(data)
    seeded_in = time.perf_counter() - seeding
    if connection.vendor == "postgresql":
        # A live database is vacuumed and analysed by autovacuum; fresh bulk inserts are not yet,
        # and the planner would guess row counts from empty tables.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    # Seeding leaves hundreds of thousands of long-lived objects; freezing them keeps the
    # cyclic garbage collector's full passes (100+ ms) out of the measured requests, as a
    # long-running server's steady state would.
    gc.collect()
    gc.freeze()
    return data, seeded_in


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Django's own test database creation on the configured engine, destroyed afterwards."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as folder:
        test_settings = connection.settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            # A file, like the real thing (WAL included), rather than an in-memory database.
            test_settings["NAME"] = str(Path(folder) / "bench.sqlite3")
        else:
            # Never the name pytest uses, so a benchmark and a test run can share a server.
            test_settings["NAME"] = f"bench_{connection.settings_dict['NAME']}"
        old_config = setup_databases(verbosity=0, interactive=False, serialized_aliases=set())
        try:
            yield str(connection.settings_dict["NAME"])
        finally:
            teardown_databases(old_config, verbosity=0)


def run(*, runs: int, warmup: int, only: str) -> None:
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment, teardown_test_environment
    from django.urls import NoReverseMatch, reverse

    # 4xx answers from scenarios are reported in the table, not as log lines between its rows.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    logging.getLogger("django.security").setLevel(logging.ERROR)

    started = time.perf_counter()
    modules = local_bench_modules()
    scenarios = [*SCENARIOS, *(s for module in modules for s in getattr(module, "SCENARIOS", []))]
    scenarios = [s for s in scenarios if only.lower() in s.name.lower()]

    setup_test_environment()
    try:
        with throwaway_database() as database_name, override_settings(**bench_settings()):
            data, seeded_in = seed_all(modules)

            print(f"Greenlight benchmark on {connection.vendor} (throwaway database {database_name})")
            print(f"Seeded {', '.join(f'{n:,} {what}' for what, n in data.counts.items())} in {seeded_in:.1f} s.")
            for note in data.notes:
                print(note)
            print(f"Each scenario: {warmup} warm-up requests, then {runs} timed; queries and memory of one more.")
            print("'x base' and '+base' compare with the baseline view requested as the same user.\n")
            print(row([name for name, _width, _align in COLUMNS]))
            print(row(["-" * width for _name, width, _align in COLUMNS]))

            # Grouped by caller, so each group sits under the baseline it is compared with.
            groups: dict[tuple[str | None, str | None], list[Scenario]] = {}
            for scenario in scenarios:
                groups.setdefault((scenario.as_user, scenario.as_key), []).append(scenario)
            for (user_key, _key_name), group in groups.items():
                label = group[0].caller
                headers = group[0].headers(data)
                client = client_for(data.users[user_key] if user_key else None)
                base = measure(client, reverse(BASELINE_URL), htmx=False, runs=runs, warmup=warmup, headers=headers)
                print(report_line(f"baseline ({label})", label, base, base, None))
                for scenario in group:
                    try:
                        path = scenario.path(data)
                    except NoReverseMatch:
                        print(f"{scenario.name[:36]:<36}  {label:<10}  not yet available (no URL named {scenario.url})")
                        continue
                    result = measure(client, path, htmx=scenario.htmx, runs=runs, warmup=warmup, headers=headers)
                    print(report_line(scenario.name, label, result, base, scenario))
    finally:
        teardown_test_environment()
    print(f"\nDone in {time.perf_counter() - started:.1f} s. A '!' after a status means it was not the one expected.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per scenario (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument("--only", default="", help="only scenarios whose name contains this text")
    arguments = parser.parse_args(argv)
    if arguments.runs < 2:
        parser.error("--runs must be at least 2 to have a p95.")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    run(runs=arguments.runs, warmup=arguments.warmup, only=arguments.only)


if __name__ == "__main__":
    main()
