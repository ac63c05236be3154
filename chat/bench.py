"""Benchmark of the assistant's answering core (run by `make bench`, see config/bench.py).

The seeder reports the answering core's timings as notes: retrieval alone and the offline
answer end to end, for every question of the shipped golden set, asked as the large organisation. By
the time this runs it holds the whole library, 200 policies and the evidence register's 10,000 items,
so the organisation's own documents are searched at full size. The other seeders bulk-insert, which
bypasses the saves that keep the assistant's document index in step, so the index is rebuilt first (as
`manage.py reindex_documents` does) and its build time noted. Budgets: retrieval 30 ms at p95, the
offline answer 200 ms at p95.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from config.bench import BenchData

GOLDEN = Path(__file__).resolve().parent / "golden" / "uk_questions.json"
RETRIEVAL_BUDGET_MS, ANSWER_BUDGET_MS = 30, 200


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


# The reference size: an organisation with 1,000 documents of its own.
REFERENCE_DOCUMENTS = 1_000


def seed(data: BenchData) -> None:
    from chat.document_index import rebuild

    started = time.perf_counter()
    indexed = rebuild()
    data.notes.append(
        f"Assistant's document index rebuilt: {indexed:,} policies and evidence items in "
        f"{time.perf_counter() - started:.1f} s."
    )
    questions = [entry["q"] for entry in json.loads(GOLDEN.read_text())["questions"]]
    reference = _reference_organisation(data)
    _measure(data, questions, reference, f"{REFERENCE_DOCUMENTS:,} documents")
    documents = indexed - REFERENCE_DOCUMENTS
    _measure(data, questions, data.organisation, f"the large organisation's {documents:,} documents")


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


def _measure(data: BenchData, questions: list[str], organisation: Any, size: str) -> None:
    from chat.answering import answer_question
    from chat.retrieval import retrieve

    for question in questions[:3]:  # warm caches and connections, as a running server would be
        answer_question(question, organisation=organisation)
    retrieval_ms: list[float] = []
    answer_ms: list[float] = []
    for question in questions:
        started = time.perf_counter()
        retrieve(question, organisation=organisation)
        retrieval_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        answer_question(question, organisation=organisation)
        answer_ms.append((time.perf_counter() - started) * 1000)

    def verdict(p95: float, budget: int) -> str:
        return f"budget {budget} ms" + ("" if p95 <= budget else ", OVER")

    retrieval_p95, answer_p95 = _p95(retrieval_ms), _p95(answer_ms)
    retrieval_median, answer_median = statistics.median(retrieval_ms), statistics.median(answer_ms)
    data.notes.append(
        f"Assistant over {len(questions)} golden questions with {size}: retrieval median {retrieval_median:.1f} ms, "
        f"p95 {retrieval_p95:.1f} ms ({verdict(retrieval_p95, RETRIEVAL_BUDGET_MS)}); offline answer end to end "
        f"median {answer_median:.1f} ms, p95 {answer_p95:.1f} ms ({verdict(answer_p95, ANSWER_BUDGET_MS)})."
    )
