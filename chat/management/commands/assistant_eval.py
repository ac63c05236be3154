"""Measure the assistant on a golden question set: does it cite the control a consultant would?

Each question runs through the real pipeline (`answer_question`: retrieval and the configured
provider). A question passes when one of its acceptable refs is among the first three citations of
the framework it is about; top-1 counts only the first. The command reports and never fails on a low
score, so CI can track the number without a flaky gate; only an unreadable file is an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation
from chat.answering import answer_question

TOP_N = 3


@dataclass(frozen=True)
class GoldenQuestion:
    q: str
    framework: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Graded:
    q: str
    framework: str
    refs: list[str]
    cited: list[str]  # control refs of that framework, in citation order
    top1: bool
    top3: bool
    dropped: int


def load_golden(path: Path) -> list[GoldenQuestion]:
    """The questions in a golden file, or CommandError saying exactly what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CommandError(f"{path}: no such file") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"{path}: not valid JSON ({error})") from error
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise CommandError(f'{path}: expected {{"questions": [...]}} with at least one question')
    return [_question(path, number, item) for number, item in enumerate(items, start=1)]


def _question(path: Path, number: int, item: Any) -> GoldenQuestion:
    where = f"{path}: question {number}"
    if not isinstance(item, dict):
        raise CommandError(f"{where} is not an object")
    q, framework, refs = item.get("q"), item.get("framework"), item.get("refs")
    if not isinstance(q, str) or not q.strip():
        raise CommandError(f'{where} has no "q" text')
    if not isinstance(framework, str) or not framework.strip():
        raise CommandError(f'{where} has no "framework" slug')
    if not isinstance(refs, list) or not refs or not all(isinstance(ref, str) and ref.strip() for ref in refs):
        raise CommandError(f'{where} needs "refs": a non-empty list of control refs')
    return GoldenQuestion(q=q.strip(), framework=framework.strip(), refs=tuple(ref.strip() for ref in refs))


def grade(question: GoldenQuestion, cited: Sequence[str], *, dropped: int = 0) -> Graded:
    """Judge one answer from the refs it cited for the question's framework, best first."""
    acceptable = set(question.refs)
    return Graded(
        q=question.q,
        framework=question.framework,
        refs=list(question.refs),
        cited=list(cited),
        top1=bool(cited) and cited[0] in acceptable,
        top3=any(ref in acceptable for ref in cited[:TOP_N]),
        dropped=dropped,
    )


def evaluate(question: GoldenQuestion, *, organisation: Organisation | None) -> Graded:
    answer = answer_question(question.q, organisation=organisation)
    cited = [
        citation.ref
        for citation in answer.citations
        if citation.kind == "control" and citation.framework == question.framework
    ]
    return grade(question, list(dict.fromkeys(cited)), dropped=answer.dropped)


def summary(results: Sequence[Graded]) -> dict[str, Any]:
    total = len(results)
    top1 = sum(result.top1 for result in results)
    top3 = sum(result.top3 for result in results)
    return {
        "questions": total,
        "top1": top1,
        "top3": top3,
        "top1_accuracy": round(top1 / total, 4) if total else 0.0,
        "top3_accuracy": round(top3 / total, 4) if total else 0.0,
        "dropped_refs": sum(result.dropped for result in results),
    }


class Command(BaseCommand):
    help = "Run a golden question set through the assistant and print top-1 and top-3 citation accuracy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help='JSON file: {"questions": [{"q", "framework", "refs"}]}')
        parser.add_argument("--org", metavar="SLUG", help="Answer as this organisation (its documents count).")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        questions = load_golden(options["file"])
        organisation = _organisation(options.get("org"))
        results = [evaluate(question, organisation=organisation) for question in questions]
        if options["json"]:
            payload = {"results": [asdict(result) for result in results], "summary": summary(results)}
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            self._write_text(results)

    def _write_text(self, results: Sequence[Graded]) -> None:
        for result in results:
            mark = self.style.SUCCESS("PASS") if result.top3 else self.style.ERROR("FAIL")
            cited = ", ".join(result.cited[:TOP_N]) or "nothing"
            self.stdout.write(f"{mark}  {result.framework}  want {' | '.join(result.refs)}  got {cited}  {result.q}")
        totals = summary(results)
        count = totals["questions"]
        self.stdout.write(f"Top-1 accuracy: {totals['top1']}/{count} ({totals['top1_accuracy']:.1%})")
        self.stdout.write(f"Top-3 accuracy: {totals['top3']}/{count} ({totals['top3_accuracy']:.1%})")
        self.stdout.write(f"Dropped refs: {totals['dropped_refs']}")


def _organisation(slug: str | None) -> Organisation | None:
    if not slug:
        return None
    try:
        return Organisation.objects.get(slug=slug)
    except Organisation.DoesNotExist as error:
        raise CommandError(f"No organisation with slug {slug!r}.") from error
