"""Reads for the policy studio, always filtered by organisation, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from assessments.facts import profile_facts
from assessments.selectors import profile_for
from compliance.profile_facts import PROFILE_FACTS
from policies.library import PolicyTemplate, load_library
from policies.models import (
    GenerationJob,
    JobStatus,
    Policy,
    PolicyAcknowledgement,
    PolicyReview,
    PolicyStatus,
    PolicyVersion,
)
from policies.services import JOB_STALE_AFTER

# The people expected to read and acknowledge policies: the organisation's own staff. Consultants are
# outside advisers, and viewers cannot confirm anything.
STAFF_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER)


def _active_jobs() -> Q:
    return Q(status__in=(JobStatus.QUEUED, JobStatus.RUNNING), created_at__gte=timezone.now() - JOB_STALE_AFTER)


def policies_for(organisation: Organisation, *, status: str = "") -> QuerySet[Policy]:
    """The organisation's policies with their latest and published version numbers, how many staff
    acknowledged the published version, and whether a draft is being written: one query."""
    versions = PolicyVersion.objects.filter(policy=OuterRef("pk")).order_by("-number")
    published = versions.filter(published_at__isnull=False)
    acknowledged = (
        PolicyAcknowledgement.objects.filter(
            version_id=OuterRef("published_version_id"),
            user__memberships__organisation_id=OuterRef("organisation_id"),
            user__memberships__role__in=STAFF_ROLES,
        )
        .order_by()
        .values("version_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    policies = (
        Policy.objects.filter(organisation=organisation)
        .select_related("owner")
        .annotate(
            latest_number=Subquery(versions.values("number")[:1]),
            published_version_id=Subquery(published.values("pk")[:1]),
            published_number=Subquery(published.values("number")[:1]),
            drafting=Exists(GenerationJob.objects.filter(_active_jobs(), policy=OuterRef("pk"))),
        )
        .annotate(acknowledged=Coalesce(Subquery(acknowledged, output_field=IntegerField()), Value(0)))
        .order_by("title", "pk")
    )
    if status:
        policies = policies.filter(status=status)
    return policies


def staff_for(organisation_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organisation_id=organisation_id, role__in=STAFF_ROLES)
        .select_related("user")
        .order_by("user__email")
    )


@dataclass
class TemplateOffer:
    template: PolicyTemplate
    applies: bool
    unmet: list[str]
    policy_id: int | None = None

    @property
    def unmet_labels(self) -> list[str]:
        labels = [PROFILE_FACTS.get(fact, fact) for fact in self.unmet]
        return [label[:1].lower() + label[1:] for label in labels]


def template_offers(organisation: Organisation) -> list[TemplateOffer]:
    """Every template, whether it applies to this business, and the policy already drafted from it
    (two queries: the profile and the policies' template keys)."""
    facts = profile_facts(profile_for(organisation))
    drafted = dict(
        Policy.objects.filter(organisation=organisation).exclude(template_key="").values_list("template_key", "pk")
    )
    return [
        TemplateOffer(
            template=template,
            applies=template.applies_to(facts),
            unmet=template.unmet_facts(facts),
            policy_id=drafted.get(template.key),
        )
        for template in load_library().values()
    ]


@dataclass
class PolicyPage:
    policy: Policy
    versions: list[PolicyVersion]
    shown: PolicyVersion | None
    published: PolicyVersion | None
    job: GenerationJob | None
    reviews: list[PolicyReview] = field(default_factory=list)
    acknowledged_by_me: bool = False
    acknowledgements: list[PolicyAcknowledgement] = field(default_factory=list)
    not_acknowledged: list[User] = field(default_factory=list)
    staff_count: int = 0

    @property
    def latest(self) -> PolicyVersion | None:
        return self.versions[0] if self.versions else None

    @property
    def is_latest_shown(self) -> bool:
        return self.shown is not None and self.latest is not None and self.shown.pk == self.latest.pk


def policy_page(policy: Policy, *, user: Any, number: int | None = None, with_staff: bool = False) -> PolicyPage:
    """Everything the policy page shows, in a fixed number of queries whatever the history's length."""
    versions = list(
        PolicyVersion.objects.filter(policy=policy)
        .defer("sections")
        .select_related("created_by", "approved_by")
        .order_by("-number")
    )
    published = next((version for version in versions if version.published_at), None)
    wanted = next((version for version in versions if version.number == number), None) if number else None
    shown_summary = wanted or (versions[0] if versions else None)
    shown = (
        PolicyVersion.objects.select_related("created_by", "approved_by").get(pk=shown_summary.pk)
        if shown_summary
        else None
    )
    job = GenerationJob.objects.filter(policy=policy).order_by("-created_at", "-pk").first()
    page = PolicyPage(policy=policy, versions=versions, shown=shown, published=published, job=job)
    if shown is not None:
        page.reviews = list(PolicyReview.objects.filter(version=shown).select_related("reviewer"))
    if published is not None and policy.status != PolicyStatus.RETIRED:
        acknowledgements = list(
            PolicyAcknowledgement.objects.filter(version=published).select_related("user").order_by("acknowledged_at")
        )
        page.acknowledged_by_me = any(ack.user_id == user.pk for ack in acknowledgements)
        if with_staff:
            staff = [membership.user for membership in staff_for(policy.organisation_id)]
            done = {ack.user_id for ack in acknowledgements}
            page.acknowledgements = [ack for ack in acknowledgements if ack.user_id in {person.pk for person in staff}]
            page.not_acknowledged = [person for person in staff if person.pk not in done]
            page.staff_count = len(staff)
    return page


def published_policy_controls(organisation: Organisation) -> QuerySet[Any]:
    """Ids of the library controls that the organisation's published policies satisfy: a policy
    counts while it has a published version and is not retired (a new draft in progress keeps the
    published version in force)."""
    in_force = (
        Policy.objects.filter(organisation=organisation)
        .exclude(status=PolicyStatus.RETIRED)
        .filter(Exists(PolicyVersion.objects.filter(policy=OuterRef("pk"), published_at__isnull=False)))
    )
    return Policy.controls.through.objects.filter(policy__in=in_force).values_list("control_id", flat=True).distinct()
