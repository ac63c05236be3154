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

from config.bench import BenchData

GOLDEN = Path(__file__).resolve().parent / "golden" / "uk_questions.json"
RETRIEVAL_BUDGET_MS, ANSWER_BUDGET_MS = 30, 200


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def seed(data: BenchData) -> None:
    from chat.answering import answer_question
    from chat.document_index import rebuild
    from chat.retrieval import retrieve

    started = time.perf_counter()
    indexed = rebuild()
    data.notes.append(
        f"Assistant's document index rebuilt: {indexed:,} policies and evidence items in "
        f"{time.perf_counter() - started:.1f} s."
    )
    questions = [entry["q"] for entry in json.loads(GOLDEN.read_text())["questions"]]
    for question in questions[:3]:  # warm caches and connections, as a running server would be
        answer_question(question, organisation=data.organisation)
    retrieval_ms: list[float] = []
    answer_ms: list[float] = []
    for question in questions:
        started = time.perf_counter()
        retrieve(question, organisation=data.organisation)
        retrieval_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        answer_question(question, organisation=data.organisation)
        answer_ms.append((time.perf_counter() - started) * 1000)

    def verdict(p95: float, budget: int) -> str:
        return f"budget {budget} ms" + ("" if p95 <= budget else ", OVER")

    retrieval_p95, answer_p95 = _p95(retrieval_ms), _p95(answer_ms)
    retrieval_median, answer_median = statistics.median(retrieval_ms), statistics.median(answer_ms)
    data.notes.append(
        f"Assistant over {len(questions)} golden questions: retrieval median {retrieval_median:.1f} ms, "
        f"p95 {retrieval_p95:.1f} ms ({verdict(retrieval_p95, RETRIEVAL_BUDGET_MS)}); offline answer end to end "
        f"median {answer_median:.1f} ms, p95 {answer_p95:.1f} ms ({verdict(answer_p95, ANSWER_BUDGET_MS)})."
    )
