"""`make bench`: every performance budget of the earlier issues, measured in one run, as one table.

It creates a throwaway test database on the configured engine (PostgreSQL from `DATABASE_URL`, where the
budgets are stated, or a SQLite file), seeds a large organisation, a second one and a small one, then
prints one table with a row per budget: pages requested through the full middleware stack with Django's
test client (median and p95 latency, queries, peak Python memory of one request) and work that is not a
request (loading the library, building a report, exporting, uploading), each beside the do-nothing
baseline view measured in the same run, with a verdict. Budgets that a page's query count does not grow
with the data compare the same request for the small organisation and the large one. On PostgreSQL it
then measures the API's throughput through gunicorn (config/bench_api.py) on the same data. It prints;
it never fails on timings.

Apps add rows without touching this file: an optional `<app>/bench.py` exposing `SCENARIOS` (requests,
a list of `Scenario`), `MEASURES` (work that is not a request, a list of `Measure`, filled in by the
seeder with `data.record`) and, if they need data of their own, `seed(data: BenchData) -> None`.
Modules in PROJECT_BENCH_MODULES (the partner API's, config/bench_api.py) run after every app's, so
their seeders see all the data. config/bench_rows.py measures the rows, config/bench_table.py judges
and prints them.

    python -m config.bench [--runs 30] [--warmup 3] [--only audit] [--throughput-seconds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Budget and Result are the apps' too: their bench modules import everything from here.
from config.bench_table import Budget, Result, Row, details, render, summary

if TYPE_CHECKING:
    from accounts.models import Organisation, User

BASE_DIR = Path(__file__).resolve().parent.parent
BASELINE_URL = "bench_baseline"
PROJECT_BENCH_MODULES = ("config.bench_api",)
# Benchmarks measure the work, not the limiter: an API rate limit no run reaches.
UNREACHED_API_RATE = "1000000/minute"
# Whose baseline stands beside rows that are not requests (the user most rows are measured as).
REFERENCE_CALLER = "owner"

MEMBERS = 60
INVITATIONS = 40
AUDIT_EVENTS = 5_000
OTHER_MEMBERS = 10
OTHER_AUDIT_EVENTS = 500
SMALL_SLUG = "bench-small"
# Rows of each kind the small organisation holds: enough that every list takes its full path.
SMALL_ROWS = 3


@dataclass
class BenchData:
    """What the seeders built: the large organisation, a second one, a small one for the query-count
    comparisons, and a user per role by name ("small owner" and "small member" belong to the small one)."""

    organisation: Organisation
    other_organisation: Organisation
    users: dict[str, User]
    counts: dict[str, int] = field(default_factory=dict)
    # API keys' secrets by name, for scenarios with `as_key` (config/bench_api.py makes them).
    api_keys: dict[str, str] = field(default_factory=dict)
    # Facts about the seeding worth a line before the table (what was built, and how long it took).
    notes: list[str] = field(default_factory=list)
    small_organisation: Organisation | None = None
    # Results of the MEASURES, by name, as the seeders record them.
    results: dict[str, Result] = field(default_factory=dict)
    # `--only`: rows whose name does not contain it are neither measured nor shown.
    only: str = ""
    # Off when only the data is wanted (`make bench-api`): seeders then time nothing they can skip.
    measuring: bool = True

    def wants(self, measure: Measure) -> bool:
        """Whether this run shows `measure`: seeders skip the work of measures it does not."""
        return self.measuring and matches(self.only, measure.name)

    def record(self, measure: Measure, result: Result) -> None:
        self.results[measure.name] = result


@dataclass(frozen=True)
class Small:
    """The same request at a small size, for a budget that its query count does not grow with the data.

    Fields left None are the scenario's own; by default the request is made as "small owner" (or with the
    "small" API key when the scenario uses a key). `label` says what the small case is, in the details.
    """

    label: str = "the small organisation"
    as_user: str | None = None
    as_key: str | None = None
    kwargs: Callable[[BenchData], dict[str, Any]] | None = None
    query: dict[str, str] | None = None


@dataclass(frozen=True)
class Scenario:
    """One request to measure, as a row of the table under its `issue`.

    `url` is a URL name, reversed with `kwargs(data)` and `query`; `as_user` names one of
    `BenchData.users` (None is anonymous); `as_key` names one of `BenchData.api_keys`, sent as
    `Authorization: Bearer`; `htmx` sends `HX-Request` so the view answers with its fragment;
    `budget_ms` applies to the p95; `small` adds the budget that the query count is the same for the
    small case. A scenario whose URL name does not exist (yet) is reported rather than failing the run.
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
    issue: int = 0
    small: Small | None = None

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

    @property
    def budget(self) -> Budget:
        return Budget(ms=self.budget_ms, on="p95", flat_queries=self.small is not None)

    def small_scenario(self) -> Scenario:
        """This request as the small case describes it."""
        assert self.small is not None
        small = self.small
        return dataclasses.replace(
            self,
            as_user=small.as_user or (None if self.as_key else "small owner"),
            as_key=small.as_key or ("small" if self.as_key else None),
            kwargs=small.kwargs or self.kwargs,
            query=self.query if small.query is None else small.query,
            small=None,
        )


@dataclass(frozen=True)
class Measure:
    """A budget measured by a seeder rather than by a request: a load, a build, an export, an upload.

    Declared in a bench module's MEASURES so the table has its row even when the seeder failed to
    record it; the seeder fills it in with `data.record(measure, Result(...))`.
    """

    name: str
    issue: int
    budget: Budget = field(default_factory=Budget)


SCENARIOS = [
    Scenario("login page", "account_login", issue=2),
    Scenario("readyz", "readyz", issue=2),
    Scenario("dashboard shell (consultant of 2 orgs)", "dashboard", as_user="consultant", issue=2),
    Scenario("members and invitations", "settings_members", as_user="owner", issue=2),
    Scenario("audit log, first page", "audit_log", as_user="owner", issue=2, small=Small()),
    Scenario("audit log, page 40 (htmx)", "audit_log", as_user="owner", query={"page": "40"}, htmx=True, issue=2),
]


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
    log), a smaller second one the consultant also belongs to, and a small one (an owner, a member and a
    few rows of everything, added by each seeder) to compare query counts with. Bulk inserts keep this
    to seconds."""
    from django.test import override_settings
    from django.utils import timezone

    from accounts.models import AuditEvent, Invitation, Membership, Organisation, User
    from accounts.roles import Role
    from accounts.tests.factories import InvitationFactory, UserFactory

    now = timezone.now()
    organisation = Organisation.objects.create(name="Large Bakery Group Ltd", slug="bench-large")
    other = Organisation.objects.create(name="Second Client Ltd", slug="bench-second")
    small = Organisation.objects.create(name="Small Florist Ltd", slug=SMALL_SLUG)

    # The factories hash a password per user: the fast hasher keeps seeding in seconds.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        people = User.objects.bulk_create(UserFactory.build_batch(MEMBERS + OTHER_MEMBERS + 2))
    staff, outsiders, florists = people[:MEMBERS], people[MEMBERS : MEMBERS + OTHER_MEMBERS], people[-2:]

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
        + [
            Membership(organisation=small, user=florists[0], role=Role.OWNER),
            Membership(organisation=small, user=florists[1], role=Role.MEMBER),
        ]
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
    AuditEvent.objects.bulk_create(events(small, florists[:1], SMALL_ROWS))

    return BenchData(
        organisation=organisation,
        other_organisation=other,
        small_organisation=small,
        users={
            "owner": staff[0],
            "admin": staff[1],
            "consultant": staff[3],
            "member": staff[5],
            "viewer": staff[4],
            "small owner": florists[0],
            "small member": florists[1],
        },
        counts={
            "organisations": 3,
            "users": len(people),
            "memberships": len(people) + 1,
            "invitations": INVITATIONS,
            "audit events": AUDIT_EVENTS + OTHER_AUDIT_EVENTS + SMALL_ROWS,
        },
    )


# --- Reporting ------------------------------------------------------------------------------------
def matches(only: str, name: str) -> bool:
    """Whether a row named `name` is in a run given `--only`."""
    return only.lower() in name.lower()


def engine_name() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return connection.vendor


SQLITE_WARNING = (
    "WARNING: this run is on SQLite. The budgets are stated for PostgreSQL, where production runs; for the "
    "numbers that count, run DATABASE_URL=postgres://user@host:5432/name make bench."
)


def preamble(*, engine: str, vendor: str, database: str, load: float) -> list[str]:
    """What the run is measured on: the engine (with a warning off PostgreSQL) and the machine."""
    from django.utils import timezone

    now = timezone.localtime()
    lines = [f"Greenlight benchmark on {engine}, {now.day} {now:%B %Y %H:%M} (throwaway database {database})."]
    if vendor != "postgresql":
        lines.append(SQLITE_WARNING)
    lines.append(
        f"Machine: {os.cpu_count()} CPUs, load average {load:.1f} at the start (other processes busy on the "
        "machine make every timing pessimistic)."
    )
    return lines


def quiet_logs() -> None:
    """Answers that are not 200 are reported in the table, and eager tasks are the seeders' business:
    neither belongs between the table's lines."""
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    logging.getLogger("django.security").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.ERROR)


# --- The run --------------------------------------------------------------------------------------
def bench_settings() -> dict[str, Any]:
    """What every measurement runs under: the URLs with the baseline view, DEBUG off, no API limit hit."""
    from django.conf import settings

    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": UNREACHED_API_RATE}}
    return {"ROOT_URLCONF": "config.bench_urls", "DEBUG": False, "REST_FRAMEWORK": rest_framework}


def seed_all(modules: list[Any], *, only: str = "", measuring: bool = True) -> tuple[BenchData, float]:
    """Every seeder, then the database analysed and the seeded objects frozen; returns the seconds taken.
    Seeders skip the measures whose names do not contain `only`, and all of them without `measuring`;
    the data is always seeded."""
    from django.db import connection

    seeding = time.perf_counter()
    data = seed_organisations()
    data.only, data.measuring = only, measuring
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
def throwaway_database(prefix: str = "bench") -> Iterator[str]:
    """Django's own test database creation on the configured engine, destroyed afterwards; on PostgreSQL
    it is named `<prefix>_<configured name>`, so `make bench` and `make load` can run side by side."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as folder:
        test_settings = connection.settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            # A file, like the real thing (WAL included), rather than an in-memory database.
            test_settings["NAME"] = str(Path(folder) / "bench.sqlite3")
        else:
            # Never the name pytest uses, so a benchmark and a test run can share a server.
            test_settings["NAME"] = f"{prefix}_{connection.settings_dict['NAME']}"
        old_config = setup_databases(verbosity=0, interactive=False, serialized_aliases=set())
        try:
            yield str(connection.settings_dict["NAME"])
        finally:
            teardown_databases(old_config, verbosity=0)


def run(*, runs: int, warmup: int, only: str = "", throughput_seconds: float = 0) -> list[Row]:
    """Seed, measure and print the table; on PostgreSQL, then the API's throughput. Returns the rows."""
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment, teardown_test_environment

    from config.bench_rows import collect

    quiet_logs()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    modules = local_bench_modules()
    setup_test_environment()
    try:
        with throwaway_database() as database_name, override_settings(**bench_settings()):
            for line in preamble(
                engine=engine_name(), vendor=connection.vendor, database=database_name, load=load_before
            ):
                print(line)
            data, seeded_in = seed_all(modules, only=only)
            print(f"Seeded {', '.join(f'{n:,} {what}' for what, n in data.counts.items())} in {seeded_in:.1f} s.")
            for note in data.notes:
                print(note)
            rows = collect(data, modules, runs=runs, warmup=warmup)
            legend = (
                f"Requests: {warmup} warm-up, then {runs} timed (median, p95); queries and peak Python memory of one "
                "more. Baseline: the do-nothing view's median, requested the same way (beside work that is not a "
                f"request, as the {REFERENCE_CALLER}). Millisecond budgets apply to the p95 for requests and to the "
                "median for work done once. Queries 'a -> b': the small organisation (or the smaller case in the "
                "notes), then the large one."
            )
            print("\n" + textwrap.fill(legend, width=110, break_on_hyphens=False) + "\n")
            for line in render(rows):
                print(line)
            print(f"\n{summary(rows)}")
            notes = details(rows)
            if notes:
                print("Notes:\n" + "\n".join(notes))
            if connection.vendor != "postgresql":
                print(SQLITE_WARNING)
            if throughput_seconds > 0 and matches(only, "api throughput"):
                print()
                if connection.vendor == "postgresql":
                    from config.bench_api import throughput_section

                    # Not rows of the table: the server under concurrent load has its own baseline.
                    print("The API under load (not rows of the table: a server with concurrent clients).")
                    throughput_section(data, database_name, seconds=throughput_seconds)
                else:
                    print("API throughput through gunicorn: skipped (it needs PostgreSQL, as production runs).")
    finally:
        teardown_test_environment()
    print(f"\nDone in {time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f} at the end.")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per scenario (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument(
        "--only", default="", help="only rows whose name contains this text ('api throughput' for that section)"
    )
    parser.add_argument(
        "--throughput-seconds",
        type=float,
        default=5,
        help="seconds per target of the API throughput section on PostgreSQL (default 5; 0 skips it)",
    )
    arguments = parser.parse_args(argv)
    if arguments.runs < 2:
        parser.error("--runs must be at least 2 to have a p95.")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    run(
        runs=arguments.runs,
        warmup=arguments.warmup,
        only=arguments.only,
        throughput_seconds=arguments.throughput_seconds,
    )


if __name__ == "__main__":
    main()
