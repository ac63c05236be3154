"""The `make bench` harness (config/bench.py): every budget of the earlier issues has a row in its one
table, rows are measured for real against seeded organisations, and `--only` narrows a run.

A whole run seeds for a minute or more, so these tests drive the harness's parts on the test database:
the organisations seeder, the measuring of rows through the real middleware stack, and the table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import override_settings

from config import bench
from config.bench import BenchData, Budget, Measure, Result, Scenario, bench_settings, seed_organisations
from config.bench_rows import all_measures, all_scenarios, collect
from config.bench_table import FAILED, WITHIN, render

# Every budget the issues set, as (issue, text in the row's name, what the budget must include).
ISSUE_BUDGETS = [
    (2, "login page", Budget(on="p95")),
    (2, "dashboard shell", Budget(on="p95")),
    (2, "readyz", Budget(on="p95")),
    (3, "library: load from empty", Budget(ms=5000)),
    (3, "library: reload unchanged", Budget(ms=2000)),
    (3, "framework page", Budget(on="p95", flat_queries=True)),
    (3, "control page", Budget(on="p95", flat_queries=True)),
    (3, "search '2FA'", Budget(on="p95", flat_queries=True)),
    (4, "dashboard, every framework", Budget(ms=50, on="p95", flat_queries=True)),
    (4, "assessment, NIST CSF", Budget(ms=50, on="p95", flat_queries=True)),
    (4, "gap list", Budget(ms=50, on="p95", flat_queries=True)),
    (4, "plan built", Budget(ms=50, on="p95", flat_queries=True)),
    (5, "offline draft of every policy template", Budget(ms=300, on="each")),
    (5, "PDF export of a 10-page policy", Budget(ms=1000)),
    (5, "Word export of a 10-page policy", Budget(ms=1000)),
    (5, "policy list (200 policies)", Budget(ms=50, on="p95", flat_queries=True)),
    (6, "evidence: register (10,000 items)", Budget(ms=50, on="p95", flat_queries=True)),
    (6, "upload of a 25 MB file", Budget(memory_mb=50)),
    (6, "collection, 5,000 users", Budget()),
    (7, "assistant answer end to end, 1,000 documents", Budget(ms=200, on="p95")),
    (7, "assistant retrieval, 1,000 documents", Budget(ms=30, on="p95")),
    (8, "readiness report", Budget(ms=5000, memory_mb=300)),
    (8, "Statement of Applicability .xlsx", Budget(ms=1000)),
    (8, "evidence pack of 1,000 files", Budget(flat_memory_share=0.1)),
    (9, "api: readiness", Budget(ms=50, on="p95", flat_queries=True)),
    (9, "api: evidence, first page", Budget(ms=50, on="p95", flat_queries=True)),
    (9, "api: tasks, first page", Budget(ms=50, on="p95", flat_queries=True)),
    (9, "api: policies, first page", Budget(ms=50, on="p95", flat_queries=True)),
    (9, "api: audit events, first page", Budget(ms=50, on="p95", flat_queries=True)),
    (9, "api: controls, first page", Budget(ms=50, on="p95", flat_queries=True)),
]


def declared_rows() -> list[tuple[int, str, Budget]]:
    modules = bench.local_bench_modules()
    return [(s.issue, s.name, s.budget) for s in all_scenarios(modules)] + [
        (m.issue, m.name, m.budget) for m in all_measures(modules)
    ]


@pytest.mark.parametrize(("issue", "name", "budget"), ISSUE_BUDGETS, ids=[name for _i, name, _b in ISSUE_BUDGETS])
def test_every_budget_of_the_issues_is_a_row_of_the_table(issue, name, budget):
    found = [(i, n, b) for i, n, b in declared_rows() if name in n]
    assert found, f"no row named like {name!r}"
    row_issue, _name, row_budget = found[0]
    assert row_issue == issue
    assert row_budget == budget


def test_row_names_are_unique_and_every_row_has_an_issue():
    names = [name for _issue, name, _budget in declared_rows()]
    assert len(names) == len(set(names))
    assert all(issue in range(2, 10) for issue, _name, _budget in declared_rows())


def test_only_decides_which_measures_the_seeders_take():
    data = BenchData(organisation=None, other_organisation=None, users={}, only="UPLOAD")  # type: ignore[arg-type]
    upload, collection = Measure("upload of a 25 MB file", 6), Measure("Google Workspace collection", 6)
    assert data.wants(upload)
    assert not data.wants(collection)
    data.measuring = False
    assert not data.wants(upload)


@pytest.fixture
def seeded(db):
    with override_settings(**bench_settings()):
        yield seed_organisations()


def test_a_run_with_only_measures_those_rows_through_the_stack(seeded):
    seeded.only = "audit log"
    rows = collect(seeded, [], runs=2, warmup=0)

    assert [row.name for row in rows] == ["audit log, first page", "audit log, page 40 (htmx)"]
    first_page, page_40 = rows
    # Requested for real: the large organisation's 5,000 events against the small one's three.
    assert first_page.result.problem == ""
    assert (first_page.result.median_ms or 0) > 0
    assert first_page.result.queries == first_page.result.small_queries
    assert first_page.verdict == WITHIN
    assert page_40.result.problem == ""
    assert first_page.baseline_ms == page_40.baseline_ms
    assert (first_page.baseline_ms or 0) > 0
    table = render(rows)
    assert table[2].startswith("Issue 2")
    assert f"{first_page.result.queries} -> {first_page.result.queries}" in table[3]


def test_a_page_answering_an_unexpected_status_is_a_failed_row_saying_why(seeded):
    missing = Scenario(
        "a framework nobody has", "framework_detail", as_user="member", kwargs=lambda data: {"framework_slug": "nope"}
    )
    seeded.only = missing.name
    [row] = collect(seeded, [SimpleNamespace(SCENARIOS=[missing])], runs=2, warmup=0)
    assert row.verdict == FAILED
    assert row.result.problem.startswith("answered 404, not 200")


def test_a_measure_its_seeder_did_not_record_is_a_failed_row(seeded):
    recorded, forgotten = Measure("report built", 8, Budget(ms=5000)), Measure("pack streamed", 8, Budget(ms=1))
    module = SimpleNamespace(MEASURES=[recorded, forgotten])
    seeded.only = "report built"
    seeded.record(recorded, Result(median_ms=1900.0, peak_kib=4096))
    assert [row.name for row in collect(seeded, [module], runs=2, warmup=0)] == ["report built"]

    seeded.only = ""
    rows = {row.name: row for row in collect(seeded, [module], runs=2, warmup=0) if row.issue == 8}
    assert rows["report built"].verdict == WITHIN
    # Work that is not a request stands beside the owner's baseline, measured in the same run.
    assert (rows["report built"].baseline_ms or 0) > 0
    assert rows["pack streamed"].verdict == FAILED
    assert "recorded nothing" in rows["pack streamed"].result.problem


def test_the_preamble_names_the_engine_and_warns_on_sqlite():
    sqlite = bench.preamble(engine="SQLite 3.46.1", vendor="sqlite", database="/tmp/x/bench.sqlite3", load=0.5)
    assert sqlite[0].startswith("Greenlight benchmark on SQLite 3.46.1")
    assert any("budgets are stated for PostgreSQL" in line for line in sqlite)
    postgres = bench.preamble(engine="PostgreSQL 16.4", vendor="postgresql", database="bench_x", load=0.5)
    assert postgres[0].startswith("Greenlight benchmark on PostgreSQL 16.4")
    assert not any("WARNING" in line for line in postgres)
    assert any("2 CPUs" in line or "CPUs" in line for line in postgres)


def test_runs_below_two_are_refused():
    with pytest.raises(SystemExit):
        bench.main(["--runs", "1"])
