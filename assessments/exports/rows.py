"""What the exports read of a set of controls: each control's open-round answer, whether the business
profile rules it out, and the current evidence mapped to it. Four queries whatever the number of controls
or evidence items, every one filtered by organisation in SQL."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, QuerySet

from accounts.models import Organisation
from assessments.facts import profile_facts, unmet_facts
from assessments.models import Answer, AnswerStatus, AssessmentRound
from assessments.selectors import open_round, profile_for
from compliance.models import Control
from compliance.profile_facts import PROFILE_FACTS
from evidence.models import Evidence
from evidence.selectors import current_evidence_q

NOT_ASSESSED = "Not assessed"
# Evidence titles listed per control in a spreadsheet cell; the rest are counted ("and 12 more").
EVIDENCE_SHOWN = 10


@dataclass(frozen=True)
class EvidenceRef:
    pk: int
    title: str

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


@dataclass(frozen=True)
class ControlRow:
    control: Control
    answer: Answer | None
    # Profile facts the control needs that the business lacks: non-empty means the profile rules it out.
    excluded_facts: list[str] = field(default_factory=list)
    evidence: list[EvidenceRef] = field(default_factory=list)
    evidence_total: int = 0

    @property
    def applicable(self) -> bool:
        return not self.excluded_facts and not (self.answer and self.answer.status == AnswerStatus.NOT_APPLICABLE)

    @property
    def status_label(self) -> str:
        if self.answer is not None:
            return self.answer.get_status_display()
        return AnswerStatus.NOT_APPLICABLE.label if self.excluded_facts else NOT_ASSESSED

    @property
    def owner_name(self) -> str:
        owner = self.answer.owner if self.answer else None
        return owner.display_name if owner else ""

    @property
    def notes(self) -> str:
        return self.answer.notes if self.answer else ""

    @property
    def profile_reason(self) -> str:
        if not self.excluded_facts:
            return ""
        needs = " and ".join(PROFILE_FACTS.get(fact, fact).lower() for fact in self.excluded_facts)
        return f"Applies only if the business {needs}; the business profile says it does not."

    @property
    def justification(self) -> str:
        """The organisation's own words first; for a control the profile rules out, the profile's reason.
        Nothing is invented for an included control: an empty cell is one still to be justified."""
        own = (self.answer.justification or self.answer.notes) if self.answer else ""
        if self.excluded_facts and not (self.answer and self.answer.justification):
            return self.profile_reason
        return own

    def evidence_text(self, separator: str = "\n") -> str:
        lines = [str(ref) for ref in self.evidence]
        if self.evidence_total > len(self.evidence):
            lines.append(f"and {self.evidence_total - len(self.evidence)} more")
        return separator.join(lines)


@dataclass(frozen=True)
class ControlRows:
    rows: list[ControlRow]
    round: AssessmentRound | None

    @property
    def answers_as_at(self) -> date | None:
        changed = [row.answer.updated_at for row in self.rows if row.answer is not None]
        return max(changed).date() if changed else None


def control_rows(
    organisation: Organisation,
    controls: QuerySet[Control],
    *,
    evidence_titles: bool = True,
    today: date | None = None,
) -> ControlRows:
    """The controls (in the queryset's order) with the organisation's answers and current evidence.

    With `evidence_titles` each row lists up to EVIDENCE_SHOWN items; without, only the count is read.
    """
    found = list(controls.select_related("framework", "group"))
    ids = [control.pk for control in found]
    facts = profile_facts(profile_for(organisation))
    current = open_round(organisation)
    answers: dict[int, Answer] = {}
    if current is not None and ids:
        answers = {
            answer.control_id: answer
            for answer in Answer.objects.filter(organisation=organisation, round=current, control_id__in=ids)
            .select_related("owner")
            .order_by()
        }
    titles, totals = _current_evidence(organisation, ids, titles=evidence_titles, today=today)
    rows = [
        ControlRow(
            control=control,
            answer=answers.get(control.pk),
            excluded_facts=unmet_facts(control.applies_if or (), facts),
            evidence=titles.get(control.pk, []),
            evidence_total=totals.get(control.pk, 0),
        )
        for control in found
    ]
    return ControlRows(rows=rows, round=current)


def _current_evidence(
    organisation: Organisation, ids: list[int], *, titles: bool, today: date | None
) -> tuple[dict[int, list[EvidenceRef]], dict[int, int]]:
    if not ids:
        return {}, {}
    links = Evidence.controls.through.objects.filter(
        current_evidence_q(today, prefix="evidence__"), evidence__organisation=organisation, control_id__in=ids
    )
    if not titles:
        counts = links.values("control_id").annotate(items=Count("evidence_id")).order_by()
        return {}, {row["control_id"]: row["items"] for row in counts}
    shown: dict[int, list[EvidenceRef]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    rows = links.order_by("control_id", "-evidence__collected_on", "-evidence_id").values_list(
        "control_id", "evidence_id", "evidence__title"
    )
    for control_id, evidence_id, title in rows:
        totals[control_id] += 1
        if len(shown[control_id]) < EVIDENCE_SHOWN:
            shown[control_id].append(EvidenceRef(evidence_id, title))
    return dict(shown), dict(totals)
