"""Benchmark scenarios for the SMB journey (run by `make bench`, see config/bench.py).

The large organisation adopts every framework in the library, answers every assessable control, has a
plan built from its gaps and 90 days of readiness snapshots: the most a dashboard, an assessment page,
the gap list and the plan will ever have to show.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from config.bench import BenchData, Scenario

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


def seed(data: BenchData) -> None:
    from django.utils import timezone

    from accounts.audit import Actor
    from assessments import selectors, services
    from assessments.models import (
        Answer,
        BusinessProfile,
        CardHandling,
        EmployeesBand,
        FrameworkAdoption,
        PlanTask,
        ReadinessSnapshot,
    )
    from assessments.scoring import band_for
    from compliance.models import Control, Framework
    from compliance.services import library_load

    started = time.perf_counter()
    if not Framework.objects.exists():
        library_load()
    organisation, owner = data.organisation, data.users["owner"]
    now = timezone.now()

    # A profile under which every control applies: cards stored, children's data, staff abroad...
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
    frameworks = list(Framework.objects.order_by("position"))
    FrameworkAdoption.objects.bulk_create(
        [FrameworkAdoption(organisation=organisation, framework=f, adopted_by=owner) for f in frameworks]
    )
    current = services.round_current(organisation=organisation)
    controls = list(Control.objects.live().filter(assessable=True).order_by("framework__position", "position"))
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
    Answer.objects.bulk_create(answers, batch_size=1000)

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
    data.counts["answers"] = len(answers)
    data.counts["plan tasks"] = len(tasks)
    data.counts["snapshots"] = len(snapshots)
    data.notes.append(
        f"Journey: every framework adopted and answered, plan built, in {time.perf_counter() - started:.2f} s."
    )
    _time_readiness_report(data)
    from assessments.exports.bench import bench_exports

    bench_exports(data)  # the SoA .xlsx and PDF, and a streamed evidence pack of 1,000 files


REPORT_EVIDENCE = 5_000
REPORT_BUDGET_S, REPORT_MEMORY_BUDGET_MB = 5.0, 300


def _time_readiness_report(data: BenchData) -> None:
    """The readiness report of the large organisation (every framework adopted, about 500 controls) with
    5,000 evidence items, built through the same service and storage a worker uses.

    The evidence app seeds its register after this app, so the 5,000 items are added inside a
    transaction that is rolled back afterwards: the other scenarios see exactly the data they expect.
    The build is timed once, then run again with tracemalloc for its peak memory (tracing slows Python
    several times over, so the two are never the same run).
    """
    import gc
    import tempfile
    import tracemalloc

    from django.conf import settings
    from django.db import transaction
    from django.test import override_settings
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
            tracemalloc.start()
            try:
                traced_run = report_build(run_id=traced.pk)
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
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
        data.notes.append(f"Readiness report: FAILED ({problems[0]}).")
        return
    megabytes = peak / 1024 / 1024
    verdict = ", ".join(
        [
            f"budget {REPORT_BUDGET_S:g} s" + ("" if seconds <= REPORT_BUDGET_S else " OVER"),
            f"budget {REPORT_MEMORY_BUDGET_MB} MB" + ("" if megabytes <= REPORT_MEMORY_BUDGET_MB else " OVER"),
        ]
    )
    data.notes.append(
        f"Readiness report, every framework adopted, {REPORT_EVIDENCE:,} evidence items ({mappings:,} mappings): "
        f"{pages} pages, {built.size / 1024:.0f} KiB in {seconds:.2f} s, peak Python memory {megabytes:.1f} MB "
        f"({verdict})."
    )


SCENARIOS = [
    Scenario("dashboard, every framework adopted", "dashboard", as_user="owner", budget_ms=BUDGET_MS),
    Scenario(
        "assessment, NIST CSF 2.0 (100+ controls)",
        "assessment_framework",
        as_user="owner",
        kwargs=lambda data: {"framework_slug": "nist-csf-2.0"},
        budget_ms=BUDGET_MS,
    ),
    Scenario("gap list, every control answered", "gaps", as_user="owner", budget_ms=BUDGET_MS),
    Scenario("plan built from every gap", "plan", as_user="owner", budget_ms=BUDGET_MS),
]
