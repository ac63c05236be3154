"""The ISO/IEC 27001:2022 Statement of Applicability: every Annex A control, whether it applies and why,
how far it is implemented and the evidence for it. The .xlsx and PDF writers share this document.

It is exported whether or not the organisation has adopted ISO 27001: a business preparing for it can
see the shape of its SoA early. Controls its business profile rules out say so with the reason; the rest
are included and read "Not assessed" until the assessment answers them. Nothing is made up: a control
without a justification of the organisation's own shows an empty cell, for the owner to fill in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Organisation
from assessments.exports.rows import ControlRow, control_rows
from assessments.models import AnswerStatus, FrameworkAdoption
from compliance.models import Control, Framework
from config.formatting import long_date

ISO27001_SLUG = "iso27001-2022"
# Annex A's four themes, as the library names their groups (clauses 4 to 10 are groups "C4".."C10").
ANNEX_A_GROUPS = ("A.5", "A.6", "A.7", "A.8")
COLUMNS = ("Control", "Title", "Theme", "Applicable", "Justification", "Implementation status", "Evidence")


@dataclass(frozen=True)
class StatementOfApplicability:
    organisation: Organisation
    framework: Framework
    adopted: bool
    rows: list[ControlRow]
    round_name: str
    answers_as_at: date | None
    generated_on: date

    @property
    def applicable_count(self) -> int:
        return sum(row.applicable for row in self.rows)

    @property
    def implemented_count(self) -> int:
        return sum(row.answer is not None and row.answer.status == AnswerStatus.IMPLEMENTED for row in self.rows)

    @property
    def version(self) -> str:
        if not self.round_name:
            return f"No assessment yet; generated on {long_date(self.generated_on)}"
        as_at = long_date(self.answers_as_at) if self.answers_as_at else "no answers yet"
        return f"{self.round_name}, answers as at {as_at}"

    def facts(self) -> list[tuple[str, str]]:
        applicable = self.applicable_count
        return [
            ("Organisation", self.organisation.name),
            ("Standard", f"{self.framework.name}:{self.framework.version}, Annex A"),
            ("Version", self.version),
            ("Generated on", long_date(self.generated_on)),
            ("Controls", f"{len(self.rows)}: {applicable} applicable, {len(self.rows) - applicable} not applicable"),
            ("Implemented", str(self.implemented_count)),
        ]

    def notes(self) -> list[str]:
        notes = [
            "Applicable is No when the organisation answered the control Not applicable, or when its business "
            "profile rules the control out (the justification then says which fact does).",
            "Justification is the organisation's own justification or notes from its assessment. An empty "
            "justification still needs writing before the Statement goes to an auditor.",
            "Evidence lists current evidence mapped to the control: submitted or accepted, and within its "
            "valid-until date. Numbers (#123) are the items' references in the evidence register and pack.",
        ]
        if not self.adopted:
            notes.insert(
                0,
                "ISO 27001 has not been adopted yet, so most controls read Not assessed: adopt it and answer the "
                "assessment to complete this Statement.",
            )
        return notes

    def cells(self, row: ControlRow) -> tuple[str, str, str, str, str, str, str]:
        control = row.control
        return (
            control.ref,
            control.title,
            control.group.title,
            "Yes" if row.applicable else "No",
            row.justification,
            row.status_label,
            row.evidence_text(),
        )


def annex_a(framework: Framework) -> QuerySet[Control]:
    return Control.objects.live().filter(framework=framework, group__ref__in=ANNEX_A_GROUPS).order_by("position")


def statement_for(organisation: Organisation, *, today: date | None = None) -> StatementOfApplicability:
    """Six queries: the framework, its adoption, the profile, the open round, answers and evidence links."""
    framework = Framework.objects.filter(slug=ISO27001_SLUG).first()
    if framework is None:
        raise Http404("The ISO 27001 library is not loaded.")
    adopted = FrameworkAdoption.objects.filter(organisation=organisation, framework=framework).exists()
    found = control_rows(organisation, annex_a(framework), today=today)
    return StatementOfApplicability(
        organisation=organisation,
        framework=framework,
        adopted=adopted,
        rows=found.rows,
        round_name=found.round.name if found.round else "",
        answers_as_at=found.answers_as_at,
        generated_on=today or date.today(),
    )
