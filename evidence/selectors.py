"""Reading evidence: the register with its filters, an item's page, a control's evidence, duplicates,
suggested controls and what counts towards readiness. Every function filters by organisation in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Organisation
from compliance.models import Control
from evidence.fingerprints import hamming, is_near_duplicate, simhash_bands
from evidence.models import (
    COUNTING_STATUSES,
    CheckResult,
    CollectionRun,
    Connection,
    Evidence,
    EvidenceRevision,
    RunStatus,
)

EXPIRY_FILTERS = {
    "expired": "Past valid-until",
    "30": "Expires within 30 days",
    "90": "Expires within 90 days",
    "current": "Current",
}
SORTS = {
    "-collected_on": "Newest first",
    "collected_on": "Oldest first",
    "valid_until": "Expires soonest",
    "title": "Title A–Z",
    "-quality": "Best quality first",
    "quality": "Weakest quality first",
    "status": "Status",
    "owner": "Owner",
}


def current_evidence_q(today: date | None = None, prefix: str = "") -> Q:
    """Counts towards readiness: submitted or accepted, and not past its valid-until date."""
    today = today or date.today()
    return Q(**{f"{prefix}status__in": COUNTING_STATUSES}) & (
        Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gte": today})
    )


def controls_with_current_evidence(organisation: Organisation, today: date | None = None) -> QuerySet[Any]:
    """Ids of controls with current evidence; uncorrelated, for `pk IN (...)` like the policies' one."""
    return (
        Evidence.controls.through.objects.filter(evidence__organisation=organisation)
        .filter(current_evidence_q(today, prefix="evidence__"))
        .values("control_id")
    )


@dataclass(frozen=True)
class RegisterFilters:
    q: str = ""
    framework: str = ""  # framework slug
    control: int | None = None
    status: str = ""
    evidence_type: str = ""
    owner: int | None = None  # 0: nobody
    expiry: str = ""
    source: str = ""
    sort: str = "-collected_on"


def register_for(organisation: Organisation, filters: RegisterFilters, today: date | None = None) -> QuerySet[Evidence]:
    """The register's rows, filtered and sorted in SQL; the page slices it, so the cost does not grow with
    the number of items (a count, a page of rows, and one prefetch of their controls)."""
    today = today or date.today()
    items = Evidence.objects.filter(organisation=organisation).select_related("owner", "current_revision")
    if filters.q:
        items = items.filter(Q(title__icontains=filters.q) | Q(description__icontains=filters.q))
    if filters.control:
        items = items.filter(
            Exists(Evidence.controls.through.objects.filter(evidence=OuterRef("pk"), control_id=filters.control))
        )
    elif filters.framework:
        items = items.filter(
            Exists(
                Evidence.controls.through.objects.filter(
                    evidence=OuterRef("pk"), control__framework__slug=filters.framework
                )
            )
        )
    if filters.status:
        items = items.filter(status=filters.status)
    if filters.evidence_type:
        items = items.filter(evidence_type=filters.evidence_type)
    if filters.source:
        items = items.filter(source=filters.source)
    if filters.owner == 0:
        items = items.filter(owner__isnull=True)
    elif filters.owner:
        items = items.filter(owner_id=filters.owner)
    if filters.expiry == "expired":
        items = items.filter(valid_until__lt=today)
    elif filters.expiry in ("30", "90"):
        items = items.filter(valid_until__gte=today, valid_until__lte=today + timedelta(days=int(filters.expiry)))
    elif filters.expiry == "current":
        items = items.filter(current_evidence_q(today))
    sort = filters.sort if filters.sort in SORTS else "-collected_on"
    order = {"owner": ["owner__full_name", "owner__email"], "valid_until": ["valid_until"]}.get(
        sort.lstrip("-"), [sort]
    )
    if sort == "valid_until":
        from django.db.models import F

        return items.order_by(F("valid_until").asc(nulls_last=True), "-pk")
    return items.order_by(*order, "-pk")


def evidence_for_control(organisation: Organisation, control: Control) -> QuerySet[Evidence]:
    return (
        Evidence.objects.filter(organisation=organisation, controls=control)
        .select_related("owner", "current_revision")
        .order_by("-collected_on", "-pk")
    )


def revisions_of(evidence: Evidence) -> QuerySet[EvidenceRevision]:
    return EvidenceRevision.objects.filter(evidence=evidence).select_related("uploaded_by").order_by("-number")


def checks_of(evidence: Evidence) -> QuerySet[CheckResult]:
    return CheckResult.objects.filter(evidence=evidence).select_related("run").order_by("-run__run_on")[:10]


@dataclass(frozen=True)
class Duplicate:
    evidence: Evidence
    reason: str  # "exact" | "near" | "link"

    @property
    def explanation(self) -> str:
        return {
            "exact": "the same file, byte for byte",
            "near": "a document with very similar text",
            "link": "the same link",
        }[self.reason]


def duplicates_of(organisation: Organisation, evidence: Evidence, *, limit: int = 3) -> list[Duplicate]:
    """Other items of the organisation that look like this one: the same file, the same link, or text
    whose SimHash is within a few bits (found through the banded index, compared exactly here)."""
    others = Evidence.objects.filter(organisation=organisation).exclude(pk=evidence.pk).select_related("owner")
    found: list[Duplicate] = []
    seen: set[int] = set()
    if evidence.sha256:
        for other in others.filter(sha256=evidence.sha256).order_by("created_at")[:limit]:
            found.append(Duplicate(other, "exact"))
            seen.add(other.pk)
    if evidence.url_key:
        for other in others.filter(url_key=evidence.url_key).order_by("created_at")[:limit]:
            found.append(Duplicate(other, "link"))
            seen.add(other.pk)
    if evidence.simhash is not None:
        bands = simhash_bands(evidence.simhash)
        band_match = reduce(or_, (Q(**{f"simhash_band{index}": band}) for index, band in enumerate(bands)))
        candidates = (
            others.filter(band_match)
            .exclude(pk__in=seen)
            .only("pk", "title", "created_at", "simhash", "owner", "collected_on", "organisation_id")[:200]
        )
        near = [other for other in candidates if is_near_duplicate(evidence.simhash, other.simhash)]
        near.sort(key=lambda other: hamming(evidence.simhash or 0, other.simhash or 0))
        found.extend(Duplicate(other, "near") for other in near[:limit])
    return found[:limit]


def suggested_controls(organisation: Organisation, *, text: str, limit: int = 8) -> list[Control]:
    """Controls an item probably serves, from the library search over its title and description, adopted
    frameworks first."""
    from assessments.selectors import adoptions_for
    from compliance.search import search_controls

    text = " ".join(text.split())[:300]
    if len(text) < 3:
        return []
    adopted = {adoption.framework_id for adoption in adoptions_for(organisation)}
    try:
        matches = list(search_controls(text, limit=40).select_related("framework"))
    except Exception:  # a query the search cannot parse suggests nothing rather than failing the form
        return []
    matches.sort(key=lambda control: (control.framework_id not in adopted,))
    return matches[:limit]


def connections_for(organisation: Organisation) -> dict[str, Connection]:
    return {connection.provider: connection for connection in Connection.objects.filter(organisation=organisation)}


def runs_for(connection: Connection, *, limit: int = 30) -> QuerySet[CollectionRun]:
    return CollectionRun.objects.filter(connection=connection).order_by("-run_on", "-pk")[:limit]


def latest_checks_for_controls(organisation: Organisation, control_ids: list[int]) -> QuerySet[CheckResult]:
    """Each connection's latest finished run's checks on these controls, for control pages."""
    later_run = CollectionRun.objects.filter(
        connection_id=OuterRef("run__connection_id"),
        run_on__gt=OuterRef("run__run_on"),
        status__in=[RunStatus.SUCCEEDED, RunStatus.PARTIAL],
    )
    return (
        CheckResult.objects.filter(organisation=organisation, controls__in=control_ids)
        .exclude(Exists(later_run))
        .select_related("run__connection")
        .distinct()
        .order_by("passed", "title")
    )
