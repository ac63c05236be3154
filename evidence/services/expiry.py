"""The daily evidence run: items past their valid-until date expire (and stop counting towards
readiness), owners are reminded before that happens, and stored quality scores follow the calendar."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from accounts.audit import SYSTEM, audit_record
from accounts.models import Membership, Organisation, User
from accounts.notifications import notify
from accounts.roles import Capability
from accounts.webhooks import api_url, webhook_emit
from evidence.models import COUNTING_STATUSES, Evidence, EvidenceStatus
from evidence.quality import long_date

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpiryReport:
    expired: int
    reminded: int
    organisations: int


def _recipients(evidence: Evidence, approvers: dict[int, list[User]]) -> list[User]:
    """The owner; with no owner, whoever can approve evidence in the organisation."""
    if evidence.owner is not None and evidence.owner.is_active:
        return [evidence.owner]
    return approvers.get(evidence.organisation_id, [])


def _approvers(organisation_ids: set[int]) -> dict[int, list[User]]:
    found: dict[int, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(organisation_id__in=organisation_ids).select_related("user"):
        if membership.can(Capability.APPROVE) and membership.user.is_active:
            found[membership.organisation_id].append(membership.user)
    return found


def evidence_expire_and_remind(*, today: date | None = None) -> ExpiryReport:
    today = today or date.today()
    remind_until = today + timedelta(days=settings.EVIDENCE_REMINDER_DAYS)
    counting = Evidence.objects.filter(status__in=COUNTING_STATUSES).select_related("owner", "organisation")
    expiring = list(counting.filter(valid_until__lt=today))
    upcoming = list(
        counting.filter(valid_until__gte=today, valid_until__lte=remind_until).exclude(reminded_for=F("valid_until"))
    )
    organisations = {item.organisation_id for item in expiring} | {item.organisation_id for item in upcoming}
    approvers = _approvers(organisations)
    by_organisation: dict[int, list[Evidence]] = defaultdict(list)
    for item in expiring:
        by_organisation[item.organisation_id].append(item)

    for items in by_organisation.values():
        organisation = items[0].organisation
        with transaction.atomic():
            # Only rows still counting are changed: a person who renewed one meanwhile wins.
            changed = Evidence.objects.filter(pk__in=[item.pk for item in items], status__in=COUNTING_STATUSES).update(
                status=EvidenceStatus.EXPIRED
            )
            audit_record(
                organisation=organisation,
                actor=SYSTEM,
                action="evidence.expired",
                summary=f"{changed} evidence item(s) passed their valid-until date and expired",
            )
            for item in items:
                for user in _recipients(item, approvers):
                    notify(
                        organisation=organisation,
                        user=user,
                        kind="evidence_expired",
                        title=f"Evidence expired: {item.title}",
                        body=(
                            f"“{item.title}” was valid until {long_date(item.valid_until or today)} and no longer "
                            "counts towards readiness. Upload a current version to restore it."
                        ),
                        url=reverse("evidence_detail", kwargs={"evidence_id": item.pk}),
                        dedupe_key=f"evidence-expired:{item.pk}:{item.valid_until}",
                    )
                # Webhook subscribers hear of it once this commits (accounts.webhooks: sent by a worker).
                webhook_emit(
                    organisation=organisation,
                    event="evidence.expired",
                    data={
                        "evidence": {
                            "id": item.pk,
                            "title": item.title,
                            "valid_until": item.valid_until,
                            "url": api_url(organisation, f"evidence/{item.pk}/"),
                        }
                    },
                )
        from assessments.services import snapshot_schedule

        snapshot_schedule(organisation=organisation)

    for item in upcoming:
        days = (item.valid_until - today).days if item.valid_until else 0
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        for user in _recipients(item, approvers):
            notify(
                organisation=item.organisation,
                user=user,
                kind="evidence_expiring",
                title=f"Evidence expires {when}: {item.title}",
                body=(
                    f"“{item.title}” is valid until {long_date(item.valid_until or today)}. Upload a current version "
                    "before then so it keeps counting towards readiness."
                ),
                url=reverse("evidence_detail", kwargs={"evidence_id": item.pk}),
                dedupe_key=f"evidence-expiring:{item.pk}:{item.valid_until}",
            )
        Evidence.objects.filter(pk=item.pk).update(reminded_for=item.valid_until)

    from evidence.services.refresh import organisation_refresh_quality

    for organisation in Organisation.objects.filter(pk__in=Evidence.objects.values("organisation_id")):
        organisation_refresh_quality(organisation=organisation, today=today)
    report = ExpiryReport(expired=len(expiring), reminded=len(upcoming), organisations=len(organisations))
    logger.info("Evidence expiry run: %s", report)
    return report
