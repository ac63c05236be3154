"""Benchmark rows for the SMB journey (run by `make bench`, see config/bench.py).

The large organisation adopts every framework in the library, answers every assessable control, has a
plan built from its gaps and 90 days of readiness snapshots: the most a dashboard, an assessment page,
the gap list and the plan will ever have to show (issue 4: p95 within 50 ms on PostgreSQL). The small
organisation adopts every framework under the same profile and answers every control too (the answers
are bounded by the library, and a finished assessment takes the pages down the same paths), but what
grows with time it has little of: three tasks, two days of snapshots, three evidence items. Each page
must cost both the same number of queries.

Issue 8's reports are timed here too, once the answers exist: the readiness report below, the Statement
of Applicability and the evidence pack in assessments/exports/bench.py.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from assessments.exports.bench import MEASURES as EXPORT_MEASURES
from config.bench import SMALL_ROWS, BenchData, Budget, Measure, Result, Scenario, Small

SNAPSHOT_DAYS = 90
BUDGET_MS = 50
# A believable spread of answers: mostly done, some partly, some not, a few ruled out with a reason.
STATUS_CYCLE = (
    "implemented",
    "implemented",
    "implemented",
    "implemented",
    "partial",
    "partial",
    "not_implemented",
    "not_implemented",
    "implemented",
    "not_applicable",
)


def _profile(organisation: Any, now: datetime) -> None:
    """A business profile under which every control applies: cards stored, children's data, staff abroad..."""
    from assessments.models import BusinessProfile, CardHandling, EmployeesBand

    BusinessProfile.objects.create(
        organisation=organisation,
        company_name=organisation.name,
        employees_band=EmployeesBand.SMALL,
        customer_regions=["uk", "eu", "us"],
        staff_regions=["uk", "eu"],
        customers_personal_data=True,
        employee_data=True,
        special_category_data=True,
        childrens_data=True,
        card_handling=CardHandling.STORED,
        direct_marketing=True,
        website=True,
        processor_for_customers=True,
        automated_decisions=True,
        cctv=True,
        productivity_suite="microsoft-365",
        cloud_providers=["aws"],
        own_software=True,
        remote_working=True,
        byod=True,
        physical_premises=True,
        public_sector_bids=True,
        last_step="goal",
        completed_at=now,
    )


def _adopt_and_answer(organisation: Any, owner: Any, frameworks: list[Any], controls: list[Any]) -> int:
    """Every framework adopted and every control answered, in a believable spread; returns the answers."""
    from assessments import services
    from assessments.models import Answer, FrameworkAdoption

    FrameworkAdoption.objects.bulk_create(
        [FrameworkAdoption(organisation=organisation, framework=f, adopted_by=owner) for f in frameworks]
    )
    current = services.round_current(organisation=organisation)
    answers = []
    for index, control in enumerate(controls):
        status = STATUS_CYCLE[index % len(STATUS_CYCLE)]
        answers.append(
            Answer(
                organisation=organisation,
                round=current,
                control=control,
                status=status,
                owner=owner,
                updated_by=owner,
                notes=f"Benchmark answer {index}",
                justification="Not relevant to how we work." if status == "not_applicable" else "",
            )
        )
    return len(Answer.objects.bulk_create(answers, batch_size=1000))


def seed(data: BenchData) -> None:
    from django.utils import timezone

    from accounts.audit import Actor
    from assessments import selectors, services
    from assessments.models import PlanTask, ReadinessSnapshot
    from assessments.scoring import band_for
    from compliance.models import Control, Framework
    from compliance.services import library_load

    started = time.perf_counter()
    if not Framework.objects.exists():
        library_load()
    organisation, owner = data.organisation, data.users["owner"]
    now = timezone.now()
    _profile(organisation, now)
    frameworks = list(Framework.objects.order_by("position"))
    controls = list(Control.objects.live().filter(assessable=True).order_by("framework__position", "position"))
    answers = _adopt_and_answer(organisation, owner, frameworks, controls)

    tasks = services.plan_generate(organisation=organisation, actor=Actor(user=owner))
    # Owners on some tasks and a few finished, as a plan under way has.
    for index, task in enumerate(tasks):
        task.owner = data.users["member"] if index % 3 else owner
        if index % 5 == 0:
            task.status, task.completed_at = "done", now
    PlanTask.objects.bulk_update(tasks, ["owner", "status", "completed_at"], batch_size=500)

    # A snapshot a day for 90 days, readiness climbing towards today's figures.
    readiness = selectors.readiness_for(organisation)
    snapshots = []
    for days_ago in range(SNAPSHOT_DAYS, 0, -1):
        taken_at = now - timedelta(days=days_ago)
        share = Decimal(SNAPSHOT_DAYS - days_ago + 1) / SNAPSHOT_DAYS
        for framework in readiness.frameworks:
            score = (framework.score.percent * share).quantize(Decimal("0.1"))
            snapshots.append(
                ReadinessSnapshot(
                    organisation=organisation,
                    framework=framework.adoption.framework,
                    taken_at=taken_at,
                    score=score,
                    band=band_for(score),
                    would_fail=True,
                    applicable=framework.score.applicable,
                    answered=int(framework.score.answered * share),
                    implemented=int(framework.score.implemented * share),
                )
            )
        overall = (readiness.overall * share).quantize(Decimal("0.1"))
        snapshots.append(
            ReadinessSnapshot(
                organisation=organisation,
                framework=None,
                taken_at=taken_at,
                score=overall,
                band=band_for(overall),
                would_fail=True,
            )
        )
    ReadinessSnapshot.objects.bulk_create(snapshots, batch_size=1000)

    data.counts["adopted frameworks"] = len(frameworks)
    data.counts["answers"] = answers
    data.counts["plan tasks"] = len(tasks)
    data.counts["snapshots"] = len(snapshots)
    data.notes.append(
        f"Journey: every framework adopted and answered, plan built, in {time.perf_counter() - started:.2f} s."
    )
    _seed_small_journey(data, frameworks, controls)
    if data.wants(READINESS_REPORT):
        _time_readiness_report(data)
    from assessments.exports.bench import bench_exports

    bench_exports(data)  # the SoA .xlsx and PDF, and a streamed evidence pack of 1,000 files


def _seed_small_journey(data: BenchData, frameworks: list[Any], controls: list[Any]) -> None:
    """The small organisation: every framework adopted under the same profile and every control
    answered, but three tasks (each on two controls) and two snapshots, so its pages take the large
    one's code paths with little of what grows over time."""
    from django.utils import timezone

    from assessments.models import PlanTask, ReadinessSnapshot
    from assessments.scoring import band_for

    organisation = data.small_organisation
    if organisation is None:
        return
    owner, member = data.users["small owner"], data.users["small member"]
    now = timezone.now()
    _profile(organisation, now)
    _adopt_and_answer(organisation, owner, frameworks, controls)
    for n in range(SMALL_ROWS):
        task = PlanTask.objects.create(
            organisation=organisation,
            title=f"Turn on backups for shop till {n + 1}",
            owner=member,
            due_date=now.date() + timedelta(days=7 * n),
        )
        task.controls.set(controls[2 * n : 2 * n + 2])
    ReadinessSnapshot.objects.bulk_create(
        ReadinessSnapshot(
            organisation=organisation,
            framework=None,
            taken_at=now - timedelta(days=days_ago),
            score=Decimal("12.5"),
            band=band_for(Decimal("12.5")),
            would_fail=True,
        )
        for days_ago in (2, 1)
    )


REPORT_EVIDENCE = 5_000
REPORT_BUDGET_S, REPORT_MEMORY_BUDGET_MB = 5.0, 300
READINESS_REPORT = Measure(
    f"readiness report ({REPORT_EVIDENCE:,} evidence items)",
    8,
    Budget(ms=REPORT_BUDGET_S * 1000, memory_mb=REPORT_MEMORY_BUDGET_MB),
)


def _time_readiness_report(data: BenchData) -> None:
    """The readiness report of the large organisation (every framework adopted, about 500 controls) with
    5,000 evidence items, built through the same service and storage a worker uses.

    The evidence app seeds its register after this app, so the 5,000 items are added inside a
    transaction that is rolled back afterwards: the other scenarios see exactly the data they expect.
    The build is timed once, then run again with tracemalloc for its peak memory and its queries counted
    (tracing slows Python several times over, so the two are never the same run).
    """
    import gc
    import tempfile
    import tracemalloc

    from django.conf import settings
    from django.db import connection, reset_queries, transaction
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from pypdf import PdfReader

    from assessments.models import ReportRun, ReportStatus
    from assessments.services_reports import report_build
    from evidence.bench import _seed_register

    owner = data.users["owner"]
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-report-") as folder:
        storages = {
            **settings.STORAGES,
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}},
        }
        with override_settings(STORAGES=storages), transaction.atomic():
            mappings = _seed_register(data.organisation, start=0, count=REPORT_EVIDENCE)
            timed = ReportRun.objects.create(organisation=data.organisation, kind="readiness", requested_by=owner)
            started = time.perf_counter()
            built = report_build(run_id=timed.pk)
            seconds = time.perf_counter() - started

            traced = ReportRun.objects.create(organisation=data.organisation, kind="readiness", requested_by=owner)
            gc.collect()
            reset_queries()
            tracemalloc.start()
            try:
                with CaptureQueriesContext(connection) as captured:
                    traced_run = report_build(run_id=traced.pk)
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            queries = len(captured.captured_queries)
            pages = 0
            if built is not None and built.status == ReportStatus.DONE:
                with built.file.open("rb") as handle:
                    pages = len(PdfReader(handle).pages)
            transaction.set_rollback(True)
    problems = [
        run.error if run is not None else "the run could not be claimed"
        for run in (built, traced_run)
        if run is None or run.status != ReportStatus.DONE
    ]
    if problems or built is None:
        data.record(READINESS_REPORT, Result(problem=f"the build failed: {problems[0]}"))
        return
    data.record(
        READINESS_REPORT,
        Result(
            median_ms=seconds * 1000,
            queries=queries,
            peak_kib=peak / 1024,
            detail=f"{pages} pages, {built.size / 1024:.0f} KiB, {mappings:,} evidence mappings; timed once, "
            "memory and queries from a second build",
        ),
    )


def _journey(name: str, url: str, **options: Any) -> Scenario:
    return Scenario(name, url, as_user="owner", budget_ms=BUDGET_MS, issue=4, small=Small(), **options)


SCENARIOS = [
    _journey("dashboard, every framework adopted", "dashboard"),
    _journey(
        "assessment, NIST CSF 2.0 (106 controls)",
        "assessment_framework",
        kwargs=lambda data: {"framework_slug": "nist-csf-2.0"},
    ),
    _journey("gap list, every control answered", "gaps"),
    _journey("plan built from every gap", "plan"),
]
MEASURES = [READINESS_REPORT, *EXPORT_MEASURES]
