"""The benchmark's one table (config/bench_table.py): verdicts against each kind of budget, and the rows
as printed."""

from __future__ import annotations

import pytest

from config.bench_table import FAILED, NO_BUDGET, OVER, WITHIN, Budget, Result, Row, details, render, summary


@pytest.mark.parametrize(
    ("budget", "result", "expected"),
    [
        (Budget(ms=50, on="p95"), Result(median_ms=60, p95_ms=45), WITHIN),
        (Budget(ms=50, on="p95"), Result(median_ms=40, p95_ms=55), OVER),
        (Budget(ms=5000), Result(median_ms=4999), WITHIN),
        (Budget(ms=5000), Result(median_ms=5001), OVER),
        (Budget(ms=300, on="each"), Result(median_ms=30, p95_ms=80, worst_ms=301), OVER),
        (Budget(ms=300, on="each"), Result(median_ms=30, p95_ms=80, worst_ms=120), WITHIN),
        (Budget(memory_mb=50), Result(median_ms=600, peak_kib=2.8 * 1024), WITHIN),
        (Budget(memory_mb=50), Result(median_ms=600, peak_kib=51 * 1024), OVER),
        (Budget(ms=5000, memory_mb=300), Result(median_ms=1900, peak_kib=301 * 1024), OVER),
        (Budget(flat_queries=True), Result(queries=9, small_queries=9), WITHIN),
        (Budget(flat_queries=True), Result(queries=12, small_queries=9), OVER),
        # A small case that could not be counted is no evidence that the count is flat.
        (Budget(flat_queries=True), Result(queries=9), OVER),
        (Budget(ms=50, on="p95", flat_queries=True), Result(p95_ms=40, queries=10, small_queries=9), OVER),
        (Budget(), Result(median_ms=12), NO_BUDGET),
        (Budget(ms=50), Result(median_ms=1, problem="answered 503"), FAILED),
        (Budget(), Result(problem="not measured"), FAILED),
        # Streamed: 3.7 MB more for 113 MiB more is under a tenth; holding the files is not.
        (
            Budget(flat_memory_share=0.1),
            Result(peak_kib=4.6 * 1024, small_peak_kib=0.9 * 1024, handled_bytes=(13 << 20, 126 << 20)),
            WITHIN,
        ),
        (
            Budget(flat_memory_share=0.1),
            Result(peak_kib=126 * 1024, small_peak_kib=13 * 1024, handled_bytes=(13 << 20, 126 << 20)),
            OVER,
        ),
    ],
)
def test_verdict_against_each_kind_of_budget(budget, result, expected):
    assert Row("x", 2, budget, result, 1.0).verdict == expected


@pytest.mark.parametrize(
    ("budget", "label"),
    [
        (Budget(ms=50, on="p95", flat_queries=True), "p95 50 ms, flat queries"),
        (Budget(ms=5000, memory_mb=300), "5 s, 300 MB"),
        (Budget(ms=300, on="each"), "each 300 ms"),
        (Budget(flat_memory_share=0.1), "flat memory"),
        (Budget(), "-"),
    ],
)
def test_budget_labels(budget, label):
    assert budget.label == label


def test_rows_are_grouped_under_their_issue_in_issue_order():
    rows = [
        Row("assistant answer", 7, Budget(ms=200, on="p95"), Result(median_ms=30.5, p95_ms=64.9, queries=4), 6.1),
        Row(
            "evidence register",
            6,
            Budget(ms=50, on="p95", flat_queries=True),
            Result(median_ms=42.5, p95_ms=47, queries=9, small_queries=9, peak_kib=746),
            6.1,
        ),
        Row("library load", 3, Budget(ms=5000), Result(median_ms=2750), 6.1),
    ]
    lines = render(rows)
    assert lines[0].split()[:3] == ["measurement", "budget", "median"]
    headings = [line for line in lines if line.startswith("Issue ")]
    assert [heading.split(":")[0] for heading in headings] == ["Issue 3", "Issue 6", "Issue 7"]
    register = next(line for line in lines if line.startswith("evidence register"))
    for cell in ("p95 50 ms, flat queries", "42.5 ms", "47 ms", "6.10 ms", "9 -> 9", "746 KiB", "within"):
        assert cell in register
    load = next(line for line in lines if line.startswith("library load"))
    assert "2.75 s" in load
    assert load.rstrip().endswith("within")


def test_details_put_problems_first_and_summary_counts_verdicts():
    rows = [
        Row("fine", 2, Budget(ms=10), Result(median_ms=5, detail="timed once"), 1.0),
        Row("slow", 2, Budget(ms=10), Result(median_ms=50), 1.0),
        Row("broken", 2, Budget(ms=10), Result(problem="answered 503, not 200: database"), 1.0),
        Row("free", 2, Budget(), Result(median_ms=5), 1.0),
    ]
    assert details(rows) == ["- broken: FAILED, answered 503, not 200: database", "- fine: timed once"]
    assert summary(rows) == "4 rows, 3 with a budget: 1 within, 1 over, 1 failed."
