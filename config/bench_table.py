"""The one table `make bench` prints: every budget of the earlier issues as a row, with what was measured,
the baseline view measured in the same run, queries, peak memory and a verdict.

Pure formatting and arithmetic, no Django: config/bench.py measures and fills the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# What each issue covered, for the headings that group the rows.
ISSUES = {
    2: "Issue 2: accounts, organisations and the app shell",
    3: "Issue 3: the framework library",
    4: "Issue 4: the SMB journey (every framework adopted, every control answered)",
    5: "Issue 5: the policy studio",
    6: "Issue 6: evidence",
    7: "Issue 7: the assistant",
    8: "Issue 8: reports and exports",
    9: "Issue 9: the partner API",
}

WITHIN, OVER, NO_BUDGET, FAILED = "within", "OVER", "-", "FAILED"


@dataclass(frozen=True)
class Budget:
    """What an issue promised for one measurement; every part set must hold for "within".

    `ms` applies to the median (`on="median"`, for work done once or a few times), to the p95 (`on="p95"`,
    for pages) or to every case (`on="each"`, checked against the slowest). `flat_queries`: the same
    request for a small organisation (or a smaller case) costs as many queries. `flat_memory_share`: going
    from the small case to the large one, the peak grows by less than this share of the extra bytes
    handled, so the bytes are streamed rather than held.
    """

    ms: float | None = None
    on: Literal["median", "p95", "each"] = "median"
    memory_mb: float | None = None
    flat_queries: bool = False
    flat_memory_share: float | None = None

    @property
    def label(self) -> str:
        parts = []
        if self.ms is not None:
            prefix = {"median": "", "p95": "p95 ", "each": "each "}[self.on]
            parts.append(prefix + duration(self.ms))
        if self.memory_mb is not None:
            parts.append(f"{self.memory_mb:g} MB")
        if self.flat_queries:
            parts.append("flat queries")
        if self.flat_memory_share is not None:
            parts.append("flat memory")
        return ", ".join(parts) or NO_BUDGET


@dataclass(frozen=True)
class Result:
    """What one measurement found. `problem` says why there is nothing to judge (an unexpected status,
    a failed build, a URL that does not exist yet); `detail` is printed under the table."""

    median_ms: float | None = None
    p95_ms: float | None = None
    worst_ms: float | None = None
    queries: int | None = None
    small_queries: int | None = None
    peak_kib: float | None = None
    small_peak_kib: float | None = None
    # Bytes handled in the small and the large case, for `Budget.flat_memory_share`.
    handled_bytes: tuple[int, int] | None = None
    problem: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Row:
    name: str
    issue: int
    budget: Budget
    result: Result
    baseline_ms: float | None

    @property
    def verdict(self) -> str:
        return verdict(self.budget, self.result)


def verdict(budget: Budget, result: Result) -> str:
    if result.problem:
        return FAILED
    checks = []
    if budget.ms is not None:
        measured = {"median": result.median_ms, "p95": result.p95_ms, "each": result.worst_ms}[budget.on]
        checks.append(measured is not None and measured <= budget.ms)
    if budget.memory_mb is not None:
        checks.append(result.peak_kib is not None and result.peak_kib / 1024 <= budget.memory_mb)
    if budget.flat_queries:
        checks.append(result.queries is not None and result.small_queries == result.queries)
    if budget.flat_memory_share is not None:
        checks.append(_memory_is_flat(result, budget.flat_memory_share))
    if not checks:
        return NO_BUDGET
    return WITHIN if all(checks) else OVER


def _memory_is_flat(result: Result, share: float) -> bool:
    if result.peak_kib is None or result.small_peak_kib is None or result.handled_bytes is None:
        return False
    small_bytes, large_bytes = result.handled_bytes
    grown_kib = result.peak_kib - result.small_peak_kib
    return grown_kib * 1024 <= share * (large_bytes - small_bytes)


# --- Formatting -----------------------------------------------------------------------------------
def duration(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s".replace(".00 s", " s")
    if ms >= 100:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms".replace(".0 ms", " ms") if ms >= 10 else f"{ms:.2f} ms"


def memory(kib: float) -> str:
    return f"{kib:.0f} KiB" if kib < 1024 else f"{kib / 1024:.1f} MB"


def _optional(value: float | None, formatter: Callable[[float], str]) -> str:
    return "-" if value is None else formatter(value)


COLUMNS = (
    ("measurement", 44, "<"),
    ("budget", 24, "<"),
    ("median", 9, ">"),
    ("p95", 9, ">"),
    ("baseline", 8, ">"),
    ("queries", 9, ">"),
    ("peak memory", 16, ">"),
    ("verdict", 7, "<"),
)


def _line(values: list[str]) -> str:
    cells = zip(values, COLUMNS, strict=True)
    return "  ".join(f"{value:{align}{width}}" for value, (_name, width, align) in cells).rstrip()


def cells(row: Row) -> list[str]:
    result = row.result
    queries = _optional(result.queries, str)
    if row.budget.flat_queries:
        queries = f"{_optional(result.small_queries, str)} -> {queries}"
    peak = _optional(result.peak_kib, memory)
    if result.small_peak_kib is not None:
        peak = f"{memory(result.small_peak_kib)} -> {peak}"
    return [
        row.name[:44],
        row.budget.label,
        _optional(result.median_ms, duration),
        _optional(result.p95_ms, duration),
        _optional(row.baseline_ms, duration),
        queries,
        peak,
        row.verdict,
    ]


def render(rows: list[Row]) -> list[str]:
    """The table, rows grouped under their issue in issue order (declaration order within one)."""
    lines = [_line([name for name, _width, _align in COLUMNS]), _line(["-" * width for _n, width, _a in COLUMNS])]
    issue = None
    for row in sorted(rows, key=lambda row: row.issue):
        if row.issue != issue:
            issue = row.issue
            lines.append(ISSUES.get(issue, f"Issue {issue}") if issue else "Other")
        lines.append(_line(cells(row)))
    return lines


def details(rows: list[Row]) -> list[str]:
    """What does not fit a cell: problems first, then each row's detail."""
    lines = [f"- {row.name}: {row.verdict}, {row.result.problem}" for row in rows if row.result.problem]
    lines += [f"- {row.name}: {row.result.detail}" for row in rows if row.result.detail and not row.result.problem]
    return lines


def summary(rows: list[Row]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    budgeted = sum(n for verdict_, n in counts.items() if verdict_ != NO_BUDGET)
    parts = [f"{counts.get(WITHIN, 0)} within", f"{counts.get(OVER, 0)} over"]
    if counts.get(FAILED):
        parts.append(f"{counts[FAILED]} failed")
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''}, {budgeted} with a budget: {', '.join(parts)}."
