"""Timings of the exports for `make bench`: `bench_exports(data)` is called from assessments/bench.py's
seed once the large organisation has its answers, and records issue 8's MEASURES (it measures
functions, not requests; assessments/bench.py lists them with its own).

- The Statement of Applicability .xlsx (and PDF) for the large organisation: budget 1 s.
- The evidence pack of 1,000 files streamed from local storage, with Python's peak memory beside that of
  a 100-file pack: it must not grow with the bytes in the pack, only (a little) with its index. The
  files and rows live in a temporary folder and a transaction that is rolled back, so the other
  scenarios see the same data as before.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from config.bench import BenchData, Budget, Measure, Result

SOA_BUDGET_MS = 1000
SOA_RUNS = 5
PACK_FILES = 1000
PACK_FIRST = 100
FILE_BYTES = 64 * 1024
# "Memory not growing with the pack": from 100 to 1,000 files the peak may grow by a tenth of the
# bytes added at most. Holding the files would grow it by all of them; the index of the pack (a row
# per file) is what may grow.
PACK_MEMORY_SHARE = 0.1
ISSUE = 8
SOA_XLSX = Measure("Statement of Applicability .xlsx", ISSUE, Budget(ms=SOA_BUDGET_MS))
SOA_PDF = Measure("Statement of Applicability PDF", ISSUE)
EVIDENCE_PACK = Measure(
    f"evidence pack of {PACK_FILES:,} files, streamed", ISSUE, Budget(flat_memory_share=PACK_MEMORY_SHARE)
)
MEASURES = [SOA_XLSX, SOA_PDF, EVIDENCE_PACK]


def _median_ms(work: Callable[[], Any], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _peak_kib(work: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        work()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024


def bench_soa(data: BenchData) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from assessments.exports.soa import statement_for
    from assessments.exports.soa_pdf import soa_pdf
    from assessments.exports.soa_xlsx import soa_xlsx

    organisation = data.organisation
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        statement_for(organisation)
    queries = len(captured.captured_queries)
    detail = f"93 Annex A controls, median of {SOA_RUNS}"
    for measure, export in ((SOA_XLSX, soa_xlsx), (SOA_PDF, soa_pdf)):
        if not data.wants(measure):
            continue

        def work(export: Callable[[Any], bytes] = export) -> bytes:
            return export(statement_for(organisation))

        data.record(
            measure,
            Result(median_ms=_median_ms(work, SOA_RUNS), queries=queries, peak_kib=_peak_kib(work), detail=detail),
        )


def _add_files(organisation: Any, control_ids: list[int], start: int, count: int) -> None:
    """File evidence items with real stored files, in bulk, mapped to one to three controls each."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from evidence.models import Evidence, EvidenceForm, EvidenceRevision, EvidenceStatus

    items = Evidence.objects.bulk_create(
        Evidence(
            organisation=organisation,
            title=f"Pack bench file {n}",
            form=EvidenceForm.FILE,
            evidence_type="configuration",
            status=EvidenceStatus.ACCEPTED,
        )
        for n in range(start, start + count)
    )
    revisions = []
    for item in items:
        name = f"evidence/{organisation.pk}/bench/{item.pk}.bin"
        stored = default_storage.save(name, ContentFile(os.urandom(FILE_BYTES)))
        revisions.append(
            EvidenceRevision(
                organisation=organisation,
                evidence=item,
                number=1,
                file=stored,
                original_name=f"export-{item.pk}.pdf",
                file_kind="pdf",
                content_type="application/pdf",
                size=FILE_BYTES,
                sha256="0" * 64,
            )
        )
    EvidenceRevision.objects.bulk_create(revisions)
    for item, revision in zip(items, revisions, strict=True):
        item.current_revision = revision
    Evidence.objects.bulk_update(items, ["current_revision"])
    Link = Evidence.controls.through
    Link.objects.bulk_create(
        Link(evidence_id=item.pk, control_id=control_ids[(item.pk * 7 + j) % len(control_ids)])
        for item in items
        for j in range(1 + item.pk % 3)
    )


def _pack_run(organisation: Any) -> tuple[float, int, int]:
    """Seconds, bytes and Python's peak memory to produce the whole pack."""
    from assessments.exports.evidence_pack import PackOptions, pack_for, pack_stream

    tracemalloc.start()
    started = time.perf_counter()
    try:
        pack = pack_for(organisation, PackOptions())
        written = sum(len(chunk) for chunk in pack_stream(pack))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return time.perf_counter() - started, written, peak


def bench_pack(data: BenchData) -> None:
    from django.db import transaction
    from django.test import override_settings

    from accounts.models import Organisation
    from compliance.models import Control

    control_ids = list(Control.objects.live().filter(framework__slug="iso27001-2022").values_list("pk", flat=True))
    if not control_ids:
        data.record(EVIDENCE_PACK, Result(problem="the ISO 27001 library is not loaded"))
        return
    with tempfile.TemporaryDirectory() as folder:
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}}
        }
        with override_settings(STORAGES=storages), transaction.atomic():
            organisation = Organisation.objects.create(name="Evidence Pack Bench Ltd", slug="bench-evidence-pack")
            _add_files(organisation, control_ids, 0, PACK_FIRST)
            _small_seconds, small_bytes, small_peak = _pack_run(organisation)
            _add_files(organisation, control_ids, PACK_FIRST, PACK_FILES - PACK_FIRST)
            seconds, written, peak = _pack_run(organisation)
            transaction.set_rollback(True)
    mib = 1024 * 1024
    data.record(
        EVIDENCE_PACK,
        Result(
            median_ms=seconds * 1000,
            peak_kib=peak / 1024,
            small_peak_kib=small_peak / 1024,
            handled_bytes=(small_bytes, written),
            detail=f"{written / mib:.0f} MiB, files under 1 to 3 controls each, timed once while traced; peak for "
            f"{PACK_FIRST} files ({small_bytes / mib:.0f} MiB), then for {PACK_FILES:,}",
        ),
    )


def bench_exports(data: BenchData) -> None:
    bench_soa(data)
    if data.wants(EVIDENCE_PACK):
        bench_pack(data)
