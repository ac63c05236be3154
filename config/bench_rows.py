"""Measuring the rows of `make bench` (config/bench.py): each scenario requested through the full
middleware stack with Django's test client, beside the baseline view requested by the same caller, and
each measure as its seeder recorded it."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.bench import BASELINE_URL, REFERENCE_CALLER, SCENARIOS, BenchData, Measure, Scenario, Small, matches
from config.bench_table import Result, Row

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import User


@dataclass(frozen=True)
class Measurement:
    status: int
    median_ms: float
    p95_ms: float
    queries: int
    peak_kib: float
    # The start of the last answer, to say why a status was not the one expected.
    body: str = ""


# --- Measuring ------------------------------------------------------------------------------------
def measure(
    client: Client, path: str, *, htmx: bool, runs: int, warmup: int, headers: dict[str, str] | None = None
) -> Measurement:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    headers = {**(headers or {}), **({"HX-Request": "true"} if htmx else {})}

    last: list[Any] = []

    def request() -> int:
        # secure=True so production mode's HTTPS redirect does not stand in for the page.
        response = client.get(path, headers=headers, secure=True)
        last[:] = [response]
        return int(response.status_code)

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
        body=_start_of(last[0]) if last else "",
    )


def _start_of(response: Any) -> str:
    """The first line or so of an answer, for the details under the table."""
    if getattr(response, "streaming", False):
        return ""
    text = response.content[:300].decode("utf-8", errors="replace")
    return " ".join(text.split())[:160]


def page_one_queries(client: Client, path: str, *, htmx: bool, headers: dict[str, str] | None = None) -> int:
    """Queries of one request after a first one, which settles the session (or records a key's first use)."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    headers = {**(headers or {}), **({"HX-Request": "true"} if htmx else {})}
    client.get(path, headers=headers, secure=True)
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        client.get(path, headers=headers, secure=True)
    return len(captured.captured_queries)


def client_for(user: User | None) -> Client:
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- The rows -------------------------------------------------------------------------------------
def all_scenarios(modules: list[Any]) -> list[Scenario]:
    return [*SCENARIOS, *(s for module in modules for s in getattr(module, "SCENARIOS", []))]


def all_measures(modules: list[Any]) -> list[Measure]:
    return [m for module in modules for m in getattr(module, "MEASURES", [])]


class Callers:
    """A signed-in client and the baseline view's median for each caller, made on first use."""

    def __init__(self, data: BenchData, *, runs: int, warmup: int) -> None:
        self.data, self.runs, self.warmup = data, runs, warmup
        self.clients: dict[str, Client] = {}
        self.baselines: dict[str, float] = {}

    def client(self, scenario: Scenario) -> Client:
        if scenario.caller not in self.clients:
            user = self.data.users[scenario.as_user] if scenario.as_user else None
            self.clients[scenario.caller] = client_for(user)
        return self.clients[scenario.caller]

    def baseline_ms(self, scenario: Scenario) -> float:
        from django.urls import reverse

        if scenario.caller not in self.baselines:
            client, headers = self.client(scenario), scenario.headers(self.data)
            base = measure(
                client, reverse(BASELINE_URL), htmx=False, runs=self.runs, warmup=self.warmup, headers=headers
            )
            self.baselines[scenario.caller] = base.median_ms
        return self.baselines[scenario.caller]


def request_result(scenario: Scenario, data: BenchData, callers: Callers, *, runs: int, warmup: int) -> Result:
    from django.urls import NoReverseMatch

    try:
        path = scenario.path(data)
    except NoReverseMatch:
        return Result(problem=f"not yet available (no URL named {scenario.url})")
    client, headers = callers.client(scenario), scenario.headers(data)
    measured = measure(client, path, htmx=scenario.htmx, runs=runs, warmup=warmup, headers=headers)
    problem = ""
    if measured.status != scenario.expected_status:
        problem = f"answered {measured.status}, not {scenario.expected_status}: {measured.body}"
    small_queries, detail = None, ""
    if scenario.small is not None:
        small = scenario.small_scenario()
        try:
            small_queries = page_one_queries(
                callers.client(small), small.path(data), htmx=small.htmx, headers=small.headers(data)
            )
        except (NoReverseMatch, KeyError) as error:
            problem = problem or f"the small case could not be requested ({error!r})"
        if scenario.small.label != Small.label:
            detail = f"queries for {scenario.small.label}, then for this request"
    return Result(
        median_ms=measured.median_ms,
        p95_ms=measured.p95_ms,
        queries=measured.queries,
        small_queries=small_queries,
        peak_kib=measured.peak_kib,
        problem=problem,
        detail=detail,
    )


def collect(data: BenchData, modules: list[Any], *, runs: int, warmup: int) -> list[Row]:
    """Every row this run shows: the scenarios, requested now, then what the seeders recorded."""
    callers = Callers(data, runs=runs, warmup=warmup)
    rows = []
    for scenario in all_scenarios(modules):
        if not matches(data.only, scenario.name):
            continue
        baseline_ms = callers.baseline_ms(scenario)
        result = request_result(scenario, data, callers, runs=runs, warmup=warmup)
        rows.append(Row(scenario.name, scenario.issue, scenario.budget, result, baseline_ms))
    reference = Scenario("baseline", BASELINE_URL, as_user=REFERENCE_CALLER)
    for work in all_measures(modules):
        if data.wants(work):
            result = data.results.get(work.name) or Result(problem="not measured: its seeder recorded nothing")
            rows.append(Row(work.name, work.issue, work.budget, result, callers.baseline_ms(reference)))
    return rows
