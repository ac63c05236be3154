"""Benchmark rows for the framework library (run by `make bench`, see config/bench.py).

Issue 3's budgets: loading the whole bundled library into an empty database within 5 s and reloading it
unchanged within 2 s (the seeder times both, as it loads the library every other seeder needs), and the
framework page, the control page and search costing the same number of queries however large the
library: each is compared with a smaller case of the same page (the smallest framework, a control
without mappings, a search with few results).
"""

from __future__ import annotations

import time

from config.bench import BenchData, Budget, Measure, Result, Scenario, Small

ISSUE = 3
LOAD_FROM_EMPTY = Measure("library: load from empty (6 frameworks)", ISSUE, Budget(ms=5000))
RELOAD_UNCHANGED = Measure("library: reload unchanged", ISSUE, Budget(ms=2000))
MEASURES = [LOAD_FROM_EMPTY, RELOAD_UNCHANGED]


def seed(data: BenchData) -> None:
    """Load the bundled library into the empty benchmark database, timing the load and a reload."""
    from compliance.models import Control, ControlMapping
    from compliance.services import library_load

    started = time.perf_counter()
    library_load()
    from_empty = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    library_load()
    unchanged = (time.perf_counter() - started) * 1000
    data.counts["controls"] = Control.objects.count()
    data.counts["mappings"] = ControlMapping.objects.count()
    data.record(
        LOAD_FROM_EMPTY,
        Result(
            median_ms=from_empty,
            detail=f"{data.counts['controls']:,} controls and {data.counts['mappings']:,} mappings, timed once",
        ),
    )
    data.record(RELOAD_UNCHANGED, Result(median_ms=unchanged, detail="every file skipped by its hash, timed once"))


def _iso(ref: str) -> dict[str, str]:
    return {"framework_slug": "iso27001-2022", "control_ref": ref}


SCENARIOS = [
    Scenario("framework catalogue", "framework_list", as_user="member", issue=ISSUE),
    Scenario(
        "framework page, ISO 27001 (123 controls)",
        "framework_detail",
        as_user="member",
        kwargs=lambda data: {"framework_slug": "iso27001-2022"},
        issue=ISSUE,
        small=Small(
            "Cyber Essentials (47 controls)",
            as_user="member",
            kwargs=lambda data: {"framework_slug": "cyber-essentials"},
        ),
    ),
    Scenario(
        "control page with 11 mappings (A.8.5)",
        "control_detail",
        as_user="member",
        kwargs=lambda data: _iso("8.5"),
        issue=ISSUE,
        small=Small("ISO 27001 C4.2, without mappings", as_user="member", kwargs=lambda data: _iso("C4.2")),
    ),
    Scenario(
        "search '2FA' (50 results)",
        "control_search",
        as_user="member",
        query={"q": "2FA"},
        issue=ISSUE,
        small=Small("'ICO fee' (6 results)", as_user="member", query={"q": "ICO fee"}),
    ),
    Scenario(
        "search 'subject access request'",
        "control_search",
        as_user="member",
        query={"q": "subject access request"},
        issue=ISSUE,
    ),
    Scenario("API controls, first 100 (signed in)", "api_control_list", as_user="member", issue=ISSUE),
]
