"""Benchmark scenarios for the framework library (run by `make bench`, see config/bench.py)."""

from __future__ import annotations

import time

from config.bench import BenchData, Scenario


def seed(data: BenchData) -> None:
    """Load the bundled library into the empty benchmark database, timing the load and a reload."""
    from compliance.models import Control, ControlMapping
    from compliance.services import library_load

    started = time.perf_counter()
    library_load()
    from_empty = time.perf_counter() - started
    started = time.perf_counter()
    library_load()
    unchanged = time.perf_counter() - started
    data.notes.append(
        f"Library: loaded from empty in {from_empty:.2f} s (budget 5 s), "
        f"reloaded unchanged in {unchanged:.2f} s (budget 2 s)."
    )
    data.counts["controls"] = Control.objects.count()
    data.counts["mappings"] = ControlMapping.objects.count()


SCENARIOS = [
    Scenario("framework catalogue", "framework_list", as_user="member"),
    Scenario(
        "framework page, ISO 27001 (123 controls)",
        "framework_detail",
        as_user="member",
        kwargs=lambda data: {"framework_slug": "iso27001-2022"},
    ),
    Scenario(
        "control page with mappings (A.8.5)",
        "control_detail",
        as_user="member",
        kwargs=lambda data: {"framework_slug": "iso27001-2022", "control_ref": "8.5"},
    ),
    Scenario("search '2FA'", "control_search", as_user="member", query={"q": "2FA"}),
    Scenario(
        "search 'subject access request'", "control_search", as_user="member", query={"q": "subject access request"}
    ),
    Scenario("API controls, first 100", "api_control_list", as_user="member"),
]
