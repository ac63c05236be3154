"""Policy nudges: a published policy's review date coming up (and then reached), to its owner; a policy sent
for review, to the people who can approve it.

Review reminders fire once per review date and phase (two weeks before, then on the day): the dedupe key
carries both, so a second run the same day sends nothing and a new review date is news again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Membership, User
from accounts.notifications import notify
from accounts.roles import Capability
from config.formatting import long_date
from policies.models import Policy, PolicyStatus, PolicyVersion

logger = logging.getLogger(__name__)

# Owners hear about a review this many days before its date, and again when the date arrives.
REVIEW_NOTICE_DAYS = 14


@dataclass(frozen=True)
class ReminderReport:
    reviews_soon: int
    reviews_due: int


def _active_memberships(organisation_ids: set[int]) -> dict[int, list[Membership]]:
    found: dict[int, list[Membership]] = defaultdict(list)
    for membership in (
        Membership.objects.filter(organisation_id__in=organisation_ids, user__is_active=True)
        .select_related("user")
        .order_by("pk")
    ):
        found[membership.organisation_id].append(membership)
    return found


def _approvers(memberships: list[Membership]) -> list[User]:
    return [membership.user for membership in memberships if membership.can(Capability.APPROVE)]


def _reviewers(policy: Policy, memberships: list[Membership]) -> list[User]:
    """The policy's owner while they are an active member; with none, whoever can approve policies."""
    if policy.owner is not None and any(membership.user_id == policy.owner_id for membership in memberships):
        return [policy.owner]
    return _approvers(memberships)


def policy_reviews_remind(*, today: date | None = None) -> ReminderReport:
    today = today or timezone.localdate()
    policies = list(
        Policy.objects.filter(
            status=PolicyStatus.PUBLISHED,
            review_date__isnull=False,
            review_date__lte=today + timedelta(days=REVIEW_NOTICE_DAYS),
        )
        .select_related("owner", "organisation")
        .order_by("review_date", "pk")
    )
    memberships = _active_memberships({policy.organisation_id for policy in policies})
    soon = due = 0
    for policy in policies:
        assert policy.review_date is not None  # filtered above
        reached = policy.review_date <= today
        days = (policy.review_date - today).days
        when = "in 1 day" if days == 1 else f"in {days} days"
        for user in _reviewers(policy, memberships.get(policy.organisation_id, [])):
            sent = notify(
                organisation=policy.organisation,
                user=user,
                kind="policy_review_due",
                title=f"Policy review due: {policy.title}" if reached else f"Policy review due {when}: {policy.title}",
                body=(
                    f"“{policy.title}” {'was' if reached else 'is'} due for review on {long_date(policy.review_date)}. "
                    "Check it still describes how you work, then publish a new version or confirm it as it is."
                ),
                url=reverse("policy_detail", kwargs={"policy_id": policy.pk}),
                dedupe_key=f"policy-review:{policy.pk}:{policy.review_date}:{'due' if reached else 'soon'}",
            )
            if sent is not None:
                due += reached
                soon += not reached
    report = ReminderReport(reviews_soon=soon, reviews_due=due)
    logger.info("Policy reminders: %s", report)
    return report


def policy_awaiting_approval_notify(*, policy: Policy, version: PolicyVersion, actor: Actor) -> int:
    """Tell everyone who can approve policies, except whoever sent it, that a policy waits for them.
    Each submission is news: a version sent back and submitted again notifies again."""
    approvers = _approvers(_active_memberships({policy.organisation_id}).get(policy.organisation_id, []))
    sender = actor.user.display_name if actor.user else "Someone"
    sent = 0
    for user in approvers:
        if actor.user is not None and user.pk == actor.user.pk:
            continue
        notification = notify(
            organisation=policy.organisation,
            user=user,
            kind="policy_awaiting_approval",
            title=f"Policy awaiting approval: {policy.title}",
            body=f"{sender} sent version {version.number} of “{policy.title}” for review.",
            url=reverse("policy_detail", kwargs={"policy_id": policy.pk}),
            dedupe_key=f"policy-submitted:{policy.pk}:{version.number}:{policy.updated_at:%Y%m%d%H%M%S%f}",
        )
        sent += notification is not None
    return sent
