"""Benchmark of the assistant's answering core (run by `make bench`, see config/bench.py).

The seeder records the answering core's timings as MEASURES: retrieval alone and the offline answer
end to end, for every question of the shipped golden set, asked by an organisation of the issue's
reference size (the whole library and 1,000 documents of its own; issue 7's budgets: retrieval 30 ms
and the answer 200 ms, both at p95), and again by the large organisation, whose 200 policies and
10,000 evidence items are several times that size (shown without a budget). The other seeders
bulk-insert, which bypasses the saves that keep the assistant's document index in step, so the index
is rebuilt first (as `manage.py reindex_documents` does) and its build time noted.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from config.bench import BenchData, Budget, Measure, Result

GOLDEN = Path(__file__).resolve().parent / "golden" / "uk_questions.json"
RETRIEVAL_BUDGET_MS, ANSWER_BUDGET_MS = 30, 200
ISSUE = 7
RETRIEVAL = Measure("assistant retrieval, 1,000 documents", ISSUE, Budget(ms=RETRIEVAL_BUDGET_MS, on="p95"))
ANSWER = Measure("assistant answer end to end, 1,000 documents", ISSUE, Budget(ms=ANSWER_BUDGET_MS, on="p95"))
LARGE_RETRIEVAL = Measure("assistant retrieval, large organisation", ISSUE)
LARGE_ANSWER = Measure("assistant answer, large organisation", ISSUE)
MEASURES = [RETRIEVAL, ANSWER, LARGE_RETRIEVAL, LARGE_ANSWER]


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


# The issue's reference size: an organisation with 1,000 documents of its own.
REFERENCE_DOCUMENTS = 1_000


def seed(data: BenchData) -> None:
    from chat.document_index import rebuild
    from chat.models import DocumentIndex

    started = time.perf_counter()
    indexed = rebuild()
    data.notes.append(
        f"Assistant's document index rebuilt: {indexed:,} policies and evidence items in "
        f"{time.perf_counter() - started:.1f} s."
    )
    questions = [entry["q"] for entry in json.loads(GOLDEN.read_text())["questions"]]
    if data.wants(RETRIEVAL) or data.wants(ANSWER):
        reference = _reference_organisation(data)
        _measure(data, questions, reference, (RETRIEVAL, ANSWER))
    if data.wants(LARGE_RETRIEVAL) or data.wants(LARGE_ANSWER):
        _measure(data, questions, data.organisation, (LARGE_RETRIEVAL, LARGE_ANSWER))
    documents = DocumentIndex.objects.filter(organisation=data.organisation).count()
    data.notes.append(f"The large organisation has {documents:,} documents in the assistant's index.")


def _reference_organisation(data: BenchData) -> Any:
    """A copy of the large organisation at the issue's size: its adoptions and 1,000 of its evidence items."""
    from accounts.models import Organisation
    from assessments.models import FrameworkAdoption
    from chat.document_index import rebuild
    from evidence.models import Evidence

    organisation = Organisation.objects.create(name="Reference Size Ltd", slug="reference-size")
    FrameworkAdoption.objects.bulk_create(
        FrameworkAdoption(organisation=organisation, framework_id=adoption.framework_id)
        for adoption in FrameworkAdoption.objects.filter(organisation=data.organisation)
    )
    copies = []
    for item in Evidence.objects.filter(organisation=data.organisation).order_by("pk")[:REFERENCE_DOCUMENTS]:
        item.pk, item.organisation, item.current_revision_id = None, organisation, None
        copies.append(item)
    Evidence.objects.bulk_create(copies, batch_size=500)
    rebuild(organisation_id=organisation.pk)
    return organisation


def _measure(data: BenchData, questions: list[str], organisation: Any, measures: tuple[Measure, Measure]) -> None:
    """Retrieval alone, then the whole offline answer, for every question; then the queries and peak
    memory of one more of each, counted and traced apart from the timings."""
    import tracemalloc

    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from chat.answering import answer_question
    from chat.models import DocumentIndex
    from chat.retrieval import retrieve

    for question in questions[:3]:  # warm caches and connections, as a running server would be
        answer_question(question, organisation=organisation)
    timings: tuple[list[float], list[float]] = ([], [])
    steps = (
        lambda question: retrieve(question, organisation=organisation),
        lambda question: answer_question(question, organisation=organisation),
    )
    for question in questions:
        for step, samples in zip(steps, timings, strict=True):
            started = time.perf_counter()
            step(question)
            samples.append((time.perf_counter() - started) * 1000)
    documents = DocumentIndex.objects.filter(organisation=organisation).count()
    for measure, step, samples in zip(measures, steps, timings, strict=True):
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            step(questions[0])
        tracemalloc.start()
        try:
            step(questions[0])
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        data.record(
            measure,
            Result(
                median_ms=statistics.median(samples),
                p95_ms=_p95(samples),
                queries=len(captured.captured_queries),
                peak_kib=peak / 1024,
                detail=f"{len(questions)} golden questions, offline provider, {documents:,} documents of the "
                "organisation's own in the index",
            ),
        )
