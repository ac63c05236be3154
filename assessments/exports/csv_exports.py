"""CSV files of the adopted frameworks' controls with their answers, of the plan's tasks and of the
evidence register, written row by row into a streamed response. Dates are written the UK way
("21 November 2026"); a byte order mark makes Excel read the file as UTF-8.

Each export reads a fixed number of queries: the rows, and the control references they list (gathered
in one query and joined in Python, because SQLite before 3.44 cannot order an aggregated string).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from accounts.models import Organisation
from assessments.exports.rows import control_rows
from assessments.models import FrameworkAdoption, PlanTask, Priority
from assessments.selectors import tasks_for
from compliance.models import Control
from config.formatting import long_date
from evidence.kinds import EvidenceType
from evidence.models import COUNTING_STATUSES, Evidence, EvidenceForm, EvidenceSource, EvidenceStatus

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# Rows are gathered into chunks of about this size before they are sent.
CHUNK_CHARACTERS = 64 * 1024
ITERATOR_CHUNK = 2000


class _Echo:
    """csv.writer's file: hands each written row straight back."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...) and worse).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A cell someone typed, made inert: a leading apostrophe keeps a would-be formula as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    pending = ["\ufeff", writer.writerow(header)]
    size = 0
    for row in rows:
        line = writer.writerow([spreadsheet_text(value) for value in row])
        pending.append(line)
        size += len(line)
        if size >= CHUNK_CHARACTERS:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")


def _day(value: date | None) -> str:
    return long_date(value) if value else ""


def _name(user: Any) -> str:
    return user.display_name if user is not None else ""


def _control_refs(links: Any, owner_field: str) -> dict[int, str]:
    """'iso27001-2022 5.15; cyber-essentials UA.1' per owner (evidence item or task), in library order."""
    refs: dict[int, list[str]] = defaultdict(list)
    rows = links.order_by(owner_field, "control__framework__position", "control__position").values_list(
        owner_field, "control__framework__slug", "control__ref"
    )
    for owner_id, slug, ref in rows.iterator(chunk_size=ITERATOR_CHUNK):
        refs[owner_id].append(f"{slug} {ref}")
    return {owner_id: "; ".join(found) for owner_id, found in refs.items()}


@dataclass(frozen=True)
class CsvExport:
    filename: str
    header: tuple[str, ...]
    rows: Callable[[Organisation, date], Iterable[Sequence[Any]]]


# --- Controls and answers -------------------------------------------------------------------------
CONTROL_HEADER = (
    "Framework",
    "Ref",
    "Title",
    "Applies to us",
    "Status",
    "Owner",
    "Notes",
    "Justification",
    "Current evidence",
    "Answer last changed",
)


def control_rows_for_csv(organisation: Organisation, today: date) -> list[tuple[Any, ...]]:
    adopted = FrameworkAdoption.objects.filter(organisation=organisation).values("framework_id")
    controls = (
        Control.objects.live()
        .filter(framework_id__in=adopted, assessable=True)
        .order_by("framework__position", "position")
    )
    found = control_rows(organisation, controls, evidence_titles=False, today=today)
    return [
        (
            f"{row.control.framework.name} {row.control.framework.version}",
            row.control.ref,
            row.control.title,
            "Yes" if row.applicable else "No",
            row.status_label,
            row.owner_name,
            row.notes,
            row.justification if not row.applicable else (row.answer.justification if row.answer else ""),
            row.evidence_total,
            _day(row.answer.updated_at.date()) if row.answer else "",
        )
        for row in found.rows
    ]


# --- Plan tasks -----------------------------------------------------------------------------------
TASK_HEADER = (
    "Title",
    "Status",
    "Priority",
    "Effort",
    "Owner",
    "Due",
    "Overdue",
    "Controls",
    "Description",
    "Added",
    "Completed",
)


def task_rows(organisation: Organisation, today: date) -> Iterator[tuple[Any, ...]]:
    refs = _control_refs(PlanTask.controls.through.objects.filter(plantask__organisation=organisation), "plantask_id")
    priorities = dict(Priority.choices)
    for task in tasks_for(organisation).iterator(chunk_size=ITERATOR_CHUNK):
        yield (
            task.title,
            task.get_status_display(),
            priorities.get(task.priority, task.priority),
            task.get_effort_display(),
            _name(task.owner),
            _day(task.due_date),
            "Yes" if task.status != "done" and task.due_date and task.due_date < today else "",
            refs.get(task.pk, ""),
            task.description,
            _day(task.created_at.date()),
            _day(task.completed_at.date()) if task.completed_at else "",
        )


# --- Evidence register ----------------------------------------------------------------------------
EVIDENCE_HEADER = (
    "Reference",
    "Title",
    "Type",
    "Form",
    "Status",
    "Counts towards readiness",
    "Source",
    "Owner",
    "Collected on",
    "Valid until",
    "Controls",
    "File",
    "Link",
    "Quality",
)


def evidence_rows(organisation: Organisation, today: date) -> Iterator[tuple[Any, ...]]:
    refs = _control_refs(Evidence.controls.through.objects.filter(evidence__organisation=organisation), "evidence_id")
    labels: dict[str, dict[str, str]] = {
        "type": dict(EvidenceType.choices),
        "form": dict(EvidenceForm.choices),
        "status": dict(EvidenceStatus.choices),
        "source": dict(EvidenceSource.choices),
    }
    items = (
        Evidence.objects.filter(organisation=organisation)
        .select_related("owner", "current_revision")
        .only(
            "title",
            "evidence_type",
            "form",
            "status",
            "source",
            "collected_on",
            "valid_until",
            "url",
            "quality",
            "owner__full_name",
            "owner__email",
            "current_revision__original_name",
        )
        .order_by("-collected_on", "-pk")
    )
    for item in items.iterator(chunk_size=ITERATOR_CHUNK):
        current = item.status in COUNTING_STATUSES and (item.valid_until is None or item.valid_until >= today)
        revision = item.current_revision
        yield (
            f"#{item.pk}",
            item.title,
            labels["type"].get(item.evidence_type, item.evidence_type),
            labels["form"].get(item.form, item.form),
            labels["status"].get(item.status, item.status),
            "Yes" if current else "No",
            labels["source"].get(item.source, item.source),
            _name(item.owner),
            _day(item.collected_on),
            _day(item.valid_until),
            refs.get(item.pk, ""),
            revision.original_name if revision and item.form == EvidenceForm.FILE else "",
            item.url,
            item.quality,
        )


EXPORTS: dict[str, CsvExport] = {
    "controls": CsvExport("controls-and-answers", CONTROL_HEADER, control_rows_for_csv),
    "tasks": CsvExport("plan-tasks", TASK_HEADER, task_rows),
    "evidence": CsvExport("evidence-register", EVIDENCE_HEADER, evidence_rows),
}


def export_stream(kind: str, organisation: Organisation, *, today: date | None = None) -> Iterator[bytes]:
    export = EXPORTS[kind]
    return csv_stream(export.header, export.rows(organisation, today or date.today()))


def export_filename(kind: str, organisation: Organisation, *, today: date | None = None) -> str:
    return f"{EXPORTS[kind].filename}-{organisation.slug}-{(today or date.today()).isoformat()}.csv"
