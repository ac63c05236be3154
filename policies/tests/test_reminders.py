"""Policy reminders: reviews coming up and reached, to the policy's owner; a policy sent for review, to
the people who can approve it. Each fires once per thing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from accounts.audit import Actor
from accounts.models import Membership, Notification
from accounts.notification_kinds import Channel
from policies import services
from policies.models import PolicyStatus
from policies.reminders import policy_reviews_remind
from policies.tasks import send_reminders
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 16)


def sent(kind: str) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(kind=kind).order_by("user__email", "title").values_list("user__email", "title")
    )


def published(personas, **fields):
    fields.setdefault("owner", personas.member)
    return PolicyFactory(organisation=personas.organisation, status=PolicyStatus.PUBLISHED, **fields)


# --- Reviews -----------------------------------------------------------------------------------------
def test_a_review_two_weeks_away_reminds_the_owner_once_then_again_on_the_day(personas):
    policy = published(personas, title="Acceptable use", review_date=TODAY + timedelta(days=10))
    published(personas, title="Far off", review_date=TODAY + timedelta(days=15))
    PolicyFactory(
        organisation=personas.organisation,
        owner=personas.member,
        title="Still a draft",
        status=PolicyStatus.DRAFT,
        review_date=TODAY,
    )

    report = policy_reviews_remind(today=TODAY)
    assert (report.reviews_soon, report.reviews_due) == (1, 0)
    assert sent("policy_review_due") == [("member@acme.example", "Policy review due in 10 days: Acceptable use")]
    notification = Notification.objects.get(kind="policy_review_due")
    assert notification.url == f"/policies/{policy.pk}/"
    assert "is due for review on 26 November 2026" in notification.body
    assert notification.channel == Channel.EMAIL

    assert policy_reviews_remind(today=TODAY).reviews_soon == 0
    # Days later, only the policy that came within the two weeks is news.
    assert policy_reviews_remind(today=TODAY + timedelta(days=3)).reviews_soon == 1
    assert Notification.objects.filter(title="Policy review due in 12 days: Far off").exists()

    on_the_day = policy_reviews_remind(today=TODAY + timedelta(days=10))
    assert (on_the_day.reviews_soon, on_the_day.reviews_due) == (0, 1)
    assert policy_reviews_remind(today=TODAY + timedelta(days=40)).reviews_due == 1  # "Far off", reached
    assert policy_reviews_remind(today=TODAY + timedelta(days=41)).reviews_due == 0
    assert sent("policy_review_due") == [
        ("member@acme.example", "Policy review due in 10 days: Acceptable use"),
        ("member@acme.example", "Policy review due in 12 days: Far off"),
        ("member@acme.example", "Policy review due: Acceptable use"),
        ("member@acme.example", "Policy review due: Far off"),
    ]


def test_a_new_review_date_is_news_again(personas):
    policy = published(personas, review_date=TODAY)
    assert policy_reviews_remind(today=TODAY).reviews_due == 1
    policy.review_date = TODAY + timedelta(days=365)
    policy.save()
    assert policy_reviews_remind(today=TODAY + timedelta(days=365)).reviews_due == 1


def test_without_an_owner_in_the_organisation_the_approvers_are_told(personas):
    published(personas, title="Nobody's", owner=None, review_date=TODAY)
    published(personas, title="Left", owner=personas.viewer, review_date=TODAY)
    Membership.objects.filter(user=personas.viewer).delete()
    policy_reviews_remind(today=TODAY)
    assert {email for email, _title in sent("policy_review_due")} == {
        "owner@acme.example",
        "admin@acme.example",
        "consultant@acme.example",
    }
    assert Notification.objects.filter(kind="policy_review_due").count() == 6


def test_the_daily_task_reminds(personas):
    published(personas, review_date=date.today())
    send_reminders.delay()
    assert Notification.objects.filter(kind="policy_review_due", user=personas.member).count() == 1


# --- Awaiting approval ---------------------------------------------------------------------------------
@pytest.fixture
def draft_policy(personas):
    policy = PolicyFactory(organisation=personas.organisation, title="Remote working", owner=personas.member)
    PolicyVersionFactory(organisation=personas.organisation, policy=policy, number=1)
    return policy


def test_submitting_a_policy_tells_everyone_who_can_approve_it_but_the_sender(personas, draft_policy):
    services.policy_submit(policy=draft_policy, actor=Actor(personas.admin))
    assert sent("policy_awaiting_approval") == [
        ("consultant@acme.example", "Policy awaiting approval: Remote working"),
        ("owner@acme.example", "Policy awaiting approval: Remote working"),
    ]
    notification = Notification.objects.filter(kind="policy_awaiting_approval").first()
    assert notification.url == f"/policies/{draft_policy.pk}/"
    assert "sent version 1 of “Remote working” for review" in notification.body
    assert not Notification.objects.filter(organisation=personas.other_organisation).exists()


def test_each_submission_notifies_once(personas, draft_policy):
    services.policy_submit(policy=draft_policy, actor=Actor(personas.member))
    assert Notification.objects.filter(kind="policy_awaiting_approval").count() == 3
    services.policy_review(policy=draft_policy, actor=Actor(personas.owner), approve=False, comment="Add a VPN rule.")
    services.policy_submit(policy=draft_policy, actor=Actor(personas.member))
    # Sent back and submitted again: that is news, once more for each approver.
    assert Notification.objects.filter(kind="policy_awaiting_approval").count() == 6


def test_a_refused_submission_notifies_nobody(personas, draft_policy):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.policy_submit(policy=draft_policy, actor=Actor(personas.viewer))
    assert not Notification.objects.exists()
