"""Keeping each item's stored quality score in step with its facts.

The score itself is worked out in `evidence.quality`; this module gathers the facts from the database
(mapped controls, which of them are in scope for the organisation) and stores the result, so the
register can sort and filter by quality without computing it for 10,000 rows per page.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from accounts.models import Organisation
from evidence.models import Evidence
from evidence.quality import Quality, QualityFacts, quality_of


def in_scope_control_ids(organisation: Organisation) -> set[int]:
    """Controls of the adopted frameworks that apply to the business (by its profile)."""
    from assessments.selectors import readiness_for

    readiness = readiness_for(organisation)
    return {control_id for control_id, state in readiness.states.items() if state.applicable}


def quality_facts(
    evidence: Evidence, *, mapped: set[int], in_scope: set[int], today: date | None = None
) -> QualityFacts:
    revision = evidence.current_revision if evidence.current_revision_id else None
    return QualityFacts(
        title=evidence.title,
        description=evidence.description,
        evidence_type=evidence.evidence_type,
        source=evidence.source,
        form=evidence.form,
        file_kind=revision.file_kind if revision else None,
        signed=evidence.signed,
        has_owner=evidence.owner_id is not None,
        collected_on=evidence.collected_on,
        valid_until=evidence.valid_until,
        mapped_controls=len(mapped),
        mapped_in_scope=len(mapped & in_scope),
        today=today or date.today(),
    )


def quality_for(evidence: Evidence, *, in_scope: set[int] | None = None) -> Quality:
    """The explained score of one item, as its page shows it."""
    if in_scope is None:
        in_scope = in_scope_control_ids(evidence.organisation)
    mapped = set(Evidence.controls.through.objects.filter(evidence=evidence).values_list("control_id", flat=True))
    return quality_of(quality_facts(evidence, mapped=mapped, in_scope=in_scope))


def evidence_refresh_quality(evidence: Evidence, *, in_scope: set[int] | None = None) -> int:
    score = quality_for(evidence, in_scope=in_scope).score
    if score != evidence.quality:
        evidence.quality = score
        Evidence.objects.filter(pk=evidence.pk).update(quality=score)
    return score


def organisation_refresh_quality(*, organisation: Organisation, today: date | None = None) -> int:
    """Recompute every item's score (freshness changes with the date); returns how many changed."""
    in_scope = in_scope_control_ids(organisation)
    mapped: dict[int, set[int]] = defaultdict(set)
    for evidence_id, control_id in Evidence.controls.through.objects.filter(
        evidence__organisation=organisation
    ).values_list("evidence_id", "control_id"):
        mapped[evidence_id].add(control_id)
    changed: list[Evidence] = []
    items = Evidence.objects.filter(organisation=organisation).select_related("current_revision")
    for evidence in items.iterator(chunk_size=1000):
        score = quality_of(quality_facts(evidence, mapped=mapped[evidence.pk], in_scope=in_scope, today=today)).score
        if score != evidence.quality:
            evidence.quality = score
            changed.append(evidence)
    Evidence.objects.bulk_update(changed, ["quality"], batch_size=1000)
    return len(changed)
