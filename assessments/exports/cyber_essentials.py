"""The Cyber Essentials answers workbook: one sheet per area of the requirements (scope, firewalls, secure
configuration, security updates, user access, malware protection and, for Plus, the audit), each row a
requirement with our answer, notes and evidence, and an empty column for the answer the owner will type
into the certification body's portal.

The question set belongs to IASME and is not reproduced: each row names the question set section it
feeds (A1 to A8), as the library's own guidance for the requirement does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.http import Http404
from openpyxl import Workbook

from accounts.models import Organisation
from assessments.exports.rows import ControlRow, control_rows
from assessments.exports.workbook import Column, info_sheet, table_sheet, workbook_bytes
from assessments.models import FrameworkAdoption
from compliance.models import Control, ControlGroup, Framework
from config.formatting import long_date

CYBER_ESSENTIALS_SLUG = "cyber-essentials"
# "question set section A4", "sections A1 and A2": the sections a requirement's guidance points to.
SECTION_MENTION = re.compile(r"\bsections?\s+(A\d{1,2}(?:(?:,\s*|\s+and\s+|\s+to\s+)A\d{1,2})*)", re.IGNORECASE)
SECTION_REF = re.compile(r"A\d{1,2}")
# Sheet titles are limited to 31 characters: a shorter name where the library's title is too long.
SHEET_TITLES = {"PLUS": "Cyber Essentials Plus"}
COLUMNS = (
    Column("Ref", 9),
    Column("Requirement", 45),
    Column("Question set section", 12),
    Column("Our answer", 20),
    Column("Applies to us", 10),
    Column("Notes and justification", 55),
    Column("Evidence", 40),
    Column("Automatic fail", 10),
    Column("Owner", 20),
    Column("Answer to submit", 50),
)


@dataclass(frozen=True)
class Area:
    group: ControlGroup
    rows: list[ControlRow]


def question_set_sections(control: Control) -> str:
    """The question set sections the requirement's description and guidance name, in order."""
    found: list[str] = []
    for mention in SECTION_MENTION.finditer(f"{control.description}\n{control.guidance}"):
        for section in SECTION_REF.findall(mention.group(1)):
            if section not in found:
                found.append(section)
    return ", ".join(sorted(found, key=lambda section: int(section[1:])))


def _cells(row: ControlRow) -> tuple[str, ...]:
    control = row.control
    notes = row.justification if not row.applicable else row.notes or row.justification
    return (
        control.ref,
        control.title,
        question_set_sections(control),
        row.status_label,
        "Yes" if row.applicable else "No",
        notes,
        row.evidence_text(),
        "Yes" if control.auto_fail else "",
        row.owner_name,
        "",
    )


def cyber_essentials_xlsx(organisation: Organisation, *, today: date | None = None) -> bytes:
    framework = Framework.objects.filter(slug=CYBER_ESSENTIALS_SLUG).first()
    if framework is None:
        raise Http404("The Cyber Essentials library is not loaded.")
    adopted = FrameworkAdoption.objects.filter(organisation=organisation, framework=framework).exists()
    controls = Control.objects.live().filter(framework=framework).order_by("group__position", "position")
    found = control_rows(organisation, controls, today=today)
    by_group: dict[int, list[ControlRow]] = defaultdict(list)
    for row in found.rows:
        by_group[row.control.group_id].append(row)
    groups = {row.control.group_id: row.control.group for row in found.rows}
    areas = [Area(groups[group_id], rows) for group_id, rows in by_group.items()]

    workbook = Workbook()
    label = f" ({framework.version_label})" if framework.version_label else ""
    facts = [
        ("Organisation", organisation.name),
        ("Requirements", f"{framework.name} {framework.version}{label}"),
        ("Assessment round", found.round.name if found.round else "No assessment yet"),
        ("Generated on", long_date(today or date.today())),
    ]
    notes = [
        "One sheet per area. Each row is a requirement with our answer from the assessment, our notes and the "
        "current evidence mapped to it.",
        "Question set section names where the certification body's question set asks about the requirement. "
        "Write what you will submit in the last column, then copy it into the assessment portal.",
        "An automatic fail (multi-factor authentication on cloud services, high or critical updates within 14 "
        "days) fails the whole assessment however well the rest goes.",
    ]
    if not adopted:
        notes.insert(0, "Cyber Essentials has not been adopted yet, so most requirements read Not assessed.")
    info_sheet(workbook, "Cyber Essentials answers", facts, notes)
    for area in areas:
        title = SHEET_TITLES.get(area.group.ref, area.group.title)
        table_sheet(workbook, title, COLUMNS, (_cells(row) for row in area.rows))
    return workbook_bytes(workbook)
