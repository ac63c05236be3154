"""`make load`'s results: written by the locustfile when Locust quits, read and printed by the orchestrator.

Locust's own CSV files are rewritten once a second and not again when the run ends, so the last second
of a run (its last failures included) could be missing from them. The locustfile writes this summary
instead, from Locust's final statistics, as Locust quits (see `write`). Beside it, the locustfile keeps
the first response of each kind of failure, one JSON object a line.

No Django and no Locust imports: the locustfile runs without Django, the orchestrator without Locust.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BODY_LINES = 12


@dataclass(frozen=True)
class RouteStats:
    name: str
    requests: int
    failures: int
    per_second: float
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class Failure:
    request: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class Results:
    routes: list[RouteStats]
    total: RouteStats
    failures: list[Failure]
    # Errors in the locustfile itself, each with its count and traceback.
    exceptions: list[str]

    @property
    def failed(self) -> bool:
        return bool(self.total.failures or self.failures or self.exceptions)


# --- Written by the locustfile ------------------------------------------------------------------------
def _route(entry: Any, name: str) -> RouteStats:
    has_requests = bool(entry.num_requests)
    return RouteStats(
        name=name,
        requests=entry.num_requests,
        failures=entry.num_failures,
        per_second=entry.total_rps,
        p50_ms=entry.get_response_time_percentile(0.5) if has_requests else 0.0,
        p95_ms=entry.get_response_time_percentile(0.95) if has_requests else 0.0,
    )


def write(environment: Any, path: Path) -> None:
    """Locust's final statistics (a `locust.env.Environment` whose run has ended) as JSON at `path`."""
    stats = environment.runner.stats
    routes = [_route(entry, f"{entry.method} {entry.name}") for entry in stats.entries.values()]
    failures = [
        # A failure the locustfile set is Locust's CatchResponseError, whose text is the message itself.
        Failure(f"{error.method} {error.name}", str(error.error), error.occurrences)
        for error in stats.errors.values()
    ]
    exceptions = [
        f"{found['count']} x {found['msg']}\n{found['traceback']}" for found in environment.runner.exceptions.values()
    ]
    summary = {
        "routes": [asdict(route) for route in routes],
        "total": asdict(_route(stats.total, "total")),
        "failures": [asdict(failure) for failure in failures],
        "exceptions": exceptions,
    }
    path.write_text(json.dumps(summary, indent=2), encoding="utf-8")


# --- Read and printed by the orchestrator ---------------------------------------------------------------
def read(path: Path) -> Results:
    raw = json.loads(path.read_text(encoding="utf-8"))
    routes = sorted((RouteStats(**route) for route in raw["routes"]), key=lambda r: r.name.split(" ", 1)[::-1])
    return Results(
        routes=routes,
        total=RouteStats(**raw["total"]),
        failures=[Failure(**failure) for failure in raw["failures"]],
        exceptions=list(raw["exceptions"]),
    )


def samples(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The first response of each kind of failure, by request and error."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.setdefault((str(record["request"]), str(record["error"])), record)
    return found


def table(results: Results) -> str:
    width = max([len("route"), *(len(r.name) for r in results.routes)])
    header = f"{'route':<{width}}  {'requests':>8}  {'req/s':>7}  {'p50 ms':>7}  {'p95 ms':>7}  {'errors':>6}"
    lines = [header, "-" * len(header)]

    def line(stats: RouteStats) -> str:
        return (
            f"{stats.name:<{width}}  {stats.requests:>8,}  {stats.per_second:>7.1f}  {stats.p50_ms:>7.0f}  "
            f"{stats.p95_ms:>7.0f}  {stats.failures:>6,}"
        )

    lines.extend(line(stats) for stats in results.routes)
    lines.append("-" * len(header))
    lines.append(line(results.total))
    return "\n".join(lines)


def failures(results: Results, sampled: dict[tuple[str, str], dict[str, Any]]) -> str:
    lines = []
    for failure in sorted(results.failures, key=lambda f: -f.occurrences):
        lines.append(f"{failure.occurrences:,} x {failure.request}: {failure.error}")
        sample = sampled.get((failure.request, failure.error))
        if sample is not None:
            body = [text for text in str(sample.get("body", "")).strip().splitlines() if text.strip()]
            lines.append(f"    first response (HTTP {sample.get('status')}):")
            lines.extend([f"    | {text[:160]}" for text in body[:BODY_LINES]] or ["    | (empty body)"])
    lines.extend(f"locustfile error: {exception}" for exception in results.exceptions)
    return "\n".join(lines)
