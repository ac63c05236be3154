"""Timings of the exports for `make bench`: `bench_exports(data)` is called from assessments/bench.py's
seed once the large organisation has its answers, and adds notes (it measures functions, not requests).

- The Statement of Applicability .xlsx (and PDF) for the large organisation: budget 1 s.
- The evidence pack of 1,000 files streamed from local storage, with Python's peak memory beside that of
  a 100-file pack: it should not grow with the pack. The files and rows live in a temporary folder and
  a transaction that is rolled back, so the other scenarios see the same data as before.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from config.bench import BenchData

SOA_BUDGET_MS = 1000
SOA_RUNS = 5
PACK_FILES = 1000
PACK_FIRST = 100
FILE_BYTES = 64 * 1024


def _median_ms(work: Callable[[], Any], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _verdict(ms: float, budget: int) -> str:
    return f"budget {budget} ms" + ("" if ms <= budget else ", OVER")


def bench_soa(data: BenchData) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from assessments.exports.soa import statement_for
    from assessments.exports.soa_pdf import soa_pdf
    from assessments.exports.soa_xlsx import soa_xlsx

    organisation = data.organisation
    xlsx_ms = _median_ms(lambda: soa_xlsx(statement_for(organisation)), SOA_RUNS)
    pdf_ms = _median_ms(lambda: soa_pdf(statement_for(organisation)), SOA_RUNS)
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        statement_for(organisation)
    data.notes.append(
        f"Statement of Applicability (93 controls, {len(captured.captured_queries)} queries): .xlsx median "
        f"{xlsx_ms:.0f} ms ({_verdict(xlsx_ms, SOA_BUDGET_MS)}); PDF median {pdf_ms:.0f} ms."
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
        data.notes.append("Evidence pack: the ISO 27001 library is not loaded (NOT MEASURED).")
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
    data.notes.append(
        f"Evidence pack of {PACK_FILES:,} files ({written / mib:.0f} MiB, files under 1 to 3 controls each) "
        f"streamed in {seconds:.1f} s; Python peak {peak / mib:.1f} MiB, against {small_peak / mib:.1f} MiB "
        f"for {PACK_FIRST} files ({small_bytes / mib:.0f} MiB)."
    )


def bench_exports(data: BenchData) -> None:
    bench_soa(data)
    bench_pack(data)
