"""The consultant's clients at a glance: readiness per framework, its change over 30 days, and the work waiting.

Readiness is computed live, as `selectors.readiness_for` does and with its own builder
(`selectors.readiness_from_rows`), not read from the latest snapshot: snapshots are taken only after
some writes (answers, the profile, evidence uploads, a short debounce later), so publishing a policy or
evidence passing its valid-until date changes readiness without a new one. Snapshots only give the
baseline of the change. Everything is read for all the clients at once, in a fixed number of queries
however many there are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import AuditEvent, Organisation
from assessments import selectors
from assessments.models import Answer, BusinessProfile, FrameworkAdoption, PlanTask, ReadinessSnapshot, TaskStatus
from assessments.scoring import band_for
from assessments.selectors import AnswerRef, ControlRow, Readiness
from chat.models import Conversation
from compliance.models import Control, ControlMapping, Framework
from evidence.models import Evidence, EvidenceStatus
from evidence.selectors import current_evidence_q
from policies.models import Policy, PolicyStatus

CHANGE_DAYS = 30
EXPIRING_DAYS = 30  # the evidence register's "expiring soon" window


@dataclass(frozen=True)
class FrameworkFigures:
    framework: Framework
    percent: Decimal
    band: str
    would_fail: bool
    # Points gained (or lost) since the snapshot nearest CHANGE_DAYS ago; None without any snapshot.
    change: Decimal | None
    change_since: datetime | None


@dataclass(frozen=True)
class ClientRow:
    organisation: Organisation
    frameworks: list[FrameworkFigures]
    overall: Decimal | None  # None: no framework adopted
    overall_band: str
    change: Decimal | None
    change_since: datetime | None
    overdue_tasks: int
    evidence_expiring: int
    evidence_expired: int
    evidence_awaiting_review: int
    policies_awaiting_approval: int
    open_escalations: int
    last_activity: datetime | None


def _only[M: Any](queryset: QuerySet[M], organisation_ids: Iterable[int] | None, path: str) -> QuerySet[M]:
    return queryset if organisation_ids is None else queryset.filter(**{f"{path}__in": organisation_ids})


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """How many rows of `queryset` the outer organisation has, as a correlated subquery."""
    counted = (
        queryset.filter(organisation=OuterRef("pk"))
        .order_by()
        .values("organisation")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _nearest_snapshots(organisation: str, framework: Any, cutoff: datetime) -> dict[str, Subquery]:
    """The ids of the snapshots just before and just after `cutoff` of the outer row's organisation
    (its field named `organisation`), of `framework` (an OuterRef) or overall (None)."""
    snapshots = ReadinessSnapshot.objects.filter(organisation=OuterRef(organisation))
    snapshots = snapshots.filter(framework__isnull=True) if framework is None else snapshots.filter(framework=framework)
    return {
        "before_id": Subquery(snapshots.filter(taken_at__lte=cutoff).order_by("-taken_at", "-id").values("id")[:1]),
        "after_id": Subquery(snapshots.filter(taken_at__gt=cutoff).order_by("taken_at", "id").values("id")[:1]),
    }


def _nearest(
    before: ReadinessSnapshot | None, after: ReadinessSnapshot | None, cutoff: datetime
) -> ReadinessSnapshot | None:
    if before is None or after is None:
        return before or after
    return before if cutoff - before.taken_at <= after.taken_at - cutoff else after


def readiness_by_organisation(
    adoptions: list[FrameworkAdoption], organisation_ids: Iterable[int] | None
) -> dict[int, Readiness]:
    """`selectors.readiness_for` of many organisations from one read of each kind (seven queries), given
    their adoptions in library order. The figures are the same: the same builder scores the same rows."""
    by_organisation: dict[int, list[FrameworkAdoption]] = defaultdict(list)
    for adoption in adoptions:
        by_organisation[adoption.organisation_id].append(adoption)
    framework_ids = {adoption.framework_id for adoption in adoptions}
    profiles = {
        profile.organisation_id: profile
        for profile in _only(BusinessProfile.objects.all(), organisation_ids, "organisation_id")
    }
    controls: dict[int, list[tuple[int, int, int, int, bool, str, int]]] = defaultdict(list)
    in_force: set[tuple[int, int]] = set()
    evidenced: set[tuple[int, int]] = set()
    keeping: set[int] = set()
    answers: dict[int, dict[int, AnswerRef]] = defaultdict(dict)
    edges: list[tuple[int, int, str]] = []
    if framework_ids:
        for row in (
            Control.objects.live()
            .filter(framework_id__in=framework_ids, assessable=True)
            .order_by()
            .values_list(
                "id", "framework_id", "group_id", "weight", "auto_fail", Cast("applies_if", TextField()), "position"
            )
        ):
            controls[row[1]].append(row)
        for framework_controls in controls.values():
            framework_controls.sort(key=lambda row: row[6])
        in_force = set(
            _only(selectors.policy_links_in_force(), organisation_ids, "policy__organisation_id")
            .values_list("policy__organisation_id", "control_id")
            .distinct()
        )
        # As `evidence.selectors.controls_with_current_evidence` reads it, for every client at once.
        evidenced = set(
            _only(Evidence.controls.through.objects.all(), organisation_ids, "evidence__organisation_id")
            .filter(current_evidence_q(prefix="evidence__"))
            .values_list("evidence__organisation_id", "control_id")
            .distinct()
        )
        keeping = set(
            _only(Evidence.objects.all(), organisation_ids, "organisation_id")
            .order_by()
            .values_list("organisation_id", flat=True)
            .distinct()
        )
        for organisation_id, control_id, status, via_control_id in _only(
            Answer.objects.filter(round__closed_at__isnull=True), organisation_ids, "organisation_id"
        ).values_list("organisation_id", "control_id", "status", "via_control_id"):
            answers[organisation_id][control_id] = AnswerRef(status, via_control_id)
        edges = list(
            ControlMapping.objects.filter(source__framework_id__in=framework_ids).values_list(
                "source_id", "target_id", "relationship"
            )
        )

    found: dict[int, Readiness] = {}
    for organisation_id, own_adoptions in by_organisation.items():
        keeps_evidence = organisation_id in keeping
        rows: list[ControlRow] = [
            (
                *row,
                (organisation_id, row[0]) in in_force,
                (organisation_id, row[0]) in evidenced,
                keeps_evidence,
            )
            for adoption in own_adoptions
            for row in controls.get(adoption.framework_id, [])
        ]
        found[organisation_id] = selectors.readiness_from_rows(
            organisation_id=organisation_id,
            adoptions=own_adoptions,
            profile=profiles.get(organisation_id),
            rows=rows,
            answers=answers.get(organisation_id, {}),
            edges=edges,
        )
    return found


def client_rows(organisation_ids: Iterable[int] | None, *, today: date | None = None) -> list[ClientRow]:
    """One row per organisation (None: every organisation), by name, in ten queries at most whatever
    the number of organisations: the organisations with their counts, their adoptions, the snapshots
    to compare with, and the seven reads of readiness."""
    today = today or timezone.localdate()
    cutoff = timezone.now() - timedelta(days=CHANGE_DAYS)
    ids = None if organisation_ids is None else list(organisation_ids)
    if ids is not None and not ids:
        return []
    soon = today + timedelta(days=EXPIRING_DAYS)
    # Annotated with the counts and the snapshot ids: typed loosely, the stubs know neither.
    organisations: list[Any] = list(
        _only(Organisation.objects.all(), ids, "pk")
        .annotate(
            overdue_tasks=_count(PlanTask.objects.filter(due_date__lt=today).exclude(status=TaskStatus.DONE)),
            evidence_expiring=_count(Evidence.objects.filter(valid_until__gte=today, valid_until__lte=soon)),
            evidence_expired=_count(Evidence.objects.filter(valid_until__lt=today)),
            evidence_awaiting_review=_count(Evidence.objects.filter(status=EvidenceStatus.SUBMITTED)),
            policies_awaiting_approval=_count(Policy.objects.filter(status=PolicyStatus.IN_REVIEW)),
            open_escalations=_count(
                Conversation.objects.filter(escalated_at__isnull=False, escalation_resolved_at__isnull=True)
            ),
            last_activity=Subquery(
                AuditEvent.objects.filter(organisation=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
            ),
            **_nearest_snapshots("pk", None, cutoff),
        )
        .order_by("name", "pk")
    )
    adoptions: list[Any] = list(
        _only(FrameworkAdoption.objects.all(), ids, "organisation_id")
        .select_related("framework")
        .annotate(**_nearest_snapshots("organisation", OuterRef("framework"), cutoff))
        .order_by("organisation_id", "framework__position")
    )
    wanted = {o.before_id for o in organisations} | {o.after_id for o in organisations}
    wanted |= {a.before_id for a in adoptions} | {a.after_id for a in adoptions}
    wanted.discard(None)
    snapshots = ReadinessSnapshot.objects.in_bulk(wanted) if wanted else {}
    readiness = readiness_by_organisation(adoptions, ids)

    def baseline(row: Any) -> ReadinessSnapshot | None:
        return _nearest(snapshots.get(row.before_id), snapshots.get(row.after_id), cutoff)

    rows = []
    for organisation in organisations:
        found = readiness.get(organisation.pk)
        frameworks = []
        for framework in found.frameworks if found else []:
            then = baseline(framework.adoption)
            frameworks.append(
                FrameworkFigures(
                    framework=framework.framework,
                    percent=framework.score.percent,
                    band=framework.score.band,
                    would_fail=framework.score.would_fail,
                    change=None if then is None else framework.score.percent - then.score,
                    change_since=None if then is None else then.taken_at,
                )
            )
        overall = found.overall if found and found.frameworks else None
        then = baseline(organisation) if overall is not None else None
        rows.append(
            ClientRow(
                organisation=organisation,
                frameworks=frameworks,
                overall=overall,
                overall_band=band_for(overall) if overall is not None else "",
                change=None if then is None or overall is None else overall - then.score,
                change_since=None if then is None else then.taken_at,
                overdue_tasks=organisation.overdue_tasks,
                evidence_expiring=organisation.evidence_expiring,
                evidence_expired=organisation.evidence_expired,
                evidence_awaiting_review=organisation.evidence_awaiting_review,
                policies_awaiting_approval=organisation.policies_awaiting_approval,
                open_escalations=organisation.open_escalations,
                last_activity=organisation.last_activity,
            )
        )
    return rows


# What `?o=` may sort by, and how. Missing figures (no framework, no snapshot, no activity) sort last.
SORTS: dict[str, Callable[[ClientRow], Any]] = {
    "name": lambda row: row.organisation.name.casefold(),
    "readiness": lambda row: row.overall,
    "change": lambda row: row.change,
    "overdue": lambda row: row.overdue_tasks,
    "expiring": lambda row: row.evidence_expiring,
    "expired": lambda row: row.evidence_expired,
    "policies": lambda row: row.policies_awaiting_approval,
    "escalations": lambda row: row.open_escalations,
    "activity": lambda row: row.last_activity,
}
DEFAULT_SORT = "name"


def sort_key(value: str) -> tuple[str, bool]:
    """The whitelisted column and whether it is descending, from `?o=` ("-change"); the name otherwise."""
    descending = value.startswith("-")
    column = value.removeprefix("-")
    if column not in SORTS:
        return DEFAULT_SORT, False
    return column, descending


def sorted_rows(rows: list[ClientRow], value: str) -> list[ClientRow]:
    column, descending = sort_key(value)
    key = SORTS[column]
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    # Ties keep the order by name, whichever the direction.
    present.sort(key=SORTS[DEFAULT_SORT])
    present.sort(key=key, reverse=descending)
    return present + missing
