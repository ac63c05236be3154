"""The consultants' policy approval queue in the admin: scoped to their organisations, a review page with the
text and the changes, and decisions that go through the policy services (and so the client's audit log)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.tests.factories import UserFactory
from policies.models import Policy, PolicyReview, PolicyStatus, ReviewDecision
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:policies_policy_changelist")


def change_url(policy: Any) -> str:
    return reverse("admin:policies_policy_change", args=[policy.pk])


def review_url(policy: Any) -> str:
    return reverse("admin:policies_policy_review", args=[getattr(policy, "pk", policy)])


def publish_url(policy: Any) -> str:
    return reverse("admin:policies_policy_publish", args=[policy.pk])


def staff(user: User) -> User:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def consultant(personas, client_for):
    return client_for(staff(personas.consultant))


def awaiting_policy(organisation, *, title: str = "Acceptable use", owner: User | None = None) -> Any:
    """A policy in review with two versions: version 2, waiting, changes version 1's text."""
    policy = PolicyFactory(organisation=organisation, title=title, status=PolicyStatus.IN_REVIEW, owner=owner)
    PolicyVersionFactory(
        organisation=organisation,
        policy=policy,
        number=1,
        published_at=timezone.now(),
        sections=[{"key": "scope", "title": "Scope", "body": "Staff lock screens when away.", "origin": "template"}],
    )
    PolicyVersionFactory(
        organisation=organisation,
        policy=policy,
        number=2,
        sections=[
            {
                "key": "scope",
                "title": "Scope",
                "body": "Staff **always** lock screens when away.\n\n<script>alert(1)</script>",
                "origin": "person",
            }
        ],
    )
    return policy


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The queue ---------------------------------------------------------------------------------------
def test_queue_lists_awaiting_policies_of_the_consultants_organisations_only(personas, consultant):
    waiting = awaiting_policy(personas.organisation, title="Acceptable use")
    PolicyFactory(organisation=personas.organisation, title="Draft backup policy", status=PolicyStatus.DRAFT)
    awaiting_policy(personas.other_organisation, title="Rival secret policy")

    response = consultant.get(CHANGELIST)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [waiting]
    body = response.content.decode()
    assert "Acceptable use" in body
    assert "Version 2" in body
    assert "Rival secret policy" not in body
    assert "Rival Widgets" not in body  # not even in the organisation filter


def test_queue_shows_every_status_when_asked(personas, consultant):
    awaiting_policy(personas.organisation)
    PolicyFactory(organisation=personas.organisation, title="Draft backup policy", status=PolicyStatus.DRAFT)
    awaiting_policy(personas.other_organisation, title="Rival secret policy")

    response = consultant.get(CHANGELIST, {"status": "all"})

    assert {policy.title for policy in response.context["cl"].result_list} == {"Acceptable use", "Draft backup policy"}


def test_queue_searches_titles_and_organisation_names(personas, consultant):
    awaiting_policy(personas.organisation, title="Acceptable use")
    awaiting_policy(personas.organisation, title="Clear desk")

    by_title = consultant.get(CHANGELIST, {"q": "clear desk"})
    by_organisation = consultant.get(CHANGELIST, {"q": "acme bakery"})

    assert [policy.title for policy in by_title.context["cl"].result_list] == ["Clear desk"]
    assert len(by_organisation.context["cl"].result_list) == 2


@pytest.mark.parametrize("size", [1, 5])
def test_queue_query_count_does_not_grow_with_policies(personas, consultant, django_assert_num_queries, size):
    for number in range(size):
        awaiting_policy(personas.organisation, title=f"Policy {number}", owner=personas.member)
    consultant.get(CHANGELIST)  # warm the content-type cache, as a running server has

    with django_assert_num_queries(9):
        response = consultant.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == size


# --- The review page -----------------------------------------------------------------------------------
def test_review_page_shows_the_sanitised_text_and_the_changes(personas, consultant):
    policy = awaiting_policy(personas.organisation)

    response = consultant.get(change_url(policy))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Version 2: Acceptable use" in body
    assert "<strong>always</strong>" in body
    assert "<script>alert(1)</script>" not in body
    assert "Changes from version 1 to version 2" in body
    # The comparison is of the Markdown, as on the app's compare page, and escaped.
    assert '<ins class="diff-added">**always** </ins>' in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'action="' + review_url(policy) + '"' in body
    assert 'name="_save"' not in body  # nothing to edit: the page is read-only


def test_review_page_of_a_first_version_says_there_is_nothing_to_compare(personas, consultant):
    policy = PolicyFactory(organisation=personas.organisation, status=PolicyStatus.IN_REVIEW)
    PolicyVersionFactory(organisation=personas.organisation, policy=policy, number=1)

    response = consultant.get(change_url(policy))

    assert "nothing to compare it with" in response.content.decode()


def test_review_page_of_another_organisations_policy_is_not_found(personas, consultant):
    theirs = awaiting_policy(personas.other_organisation, title="Rival secret policy")

    response = consultant.get(change_url(theirs), follow=True)

    assert "Rival secret policy" not in response.content.decode()
    assert response.redirect_chain[0][0] == reverse("admin:index")


# --- Decisions ---------------------------------------------------------------------------------------
def test_consultant_approves_then_publishes_with_audit_events_in_the_client_organisation(personas, consultant):
    policy = awaiting_policy(personas.organisation, owner=personas.member)

    approved = consultant.post(review_url(policy), {"decision": "approve", "comment": "Clear and complete."})

    assert approved.status_code == 302
    assert approved["Location"] == change_url(policy)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.APPROVED
    version = policy.versions.get(number=2)
    assert version.approved_by == personas.consultant
    assert version.approval_comment == "Clear and complete."
    event = AuditEvent.objects.get(organisation=personas.organisation, action="policy.approved")
    assert event.actor == personas.consultant
    assert "Clear and complete." in event.summary
    assert any("Approved “Acceptable use”" in text for text in texts(approved))
    assert "Publish version 2" in consultant.get(change_url(policy)).content.decode()

    published = consultant.post(publish_url(policy))

    policy.refresh_from_db()
    assert published.status_code == 302
    assert policy.status == PolicyStatus.PUBLISHED
    assert policy.versions.get(number=2).published_at is not None
    assert AuditEvent.objects.filter(
        organisation=personas.organisation, action="policy.published", actor=personas.consultant
    ).exists()


def test_consultant_sends_a_policy_back_with_a_comment(personas, consultant):
    policy = awaiting_policy(personas.organisation)

    response = consultant.post(review_url(policy), {"decision": "send_back", "comment": "Name the IT contact."})

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.DRAFT
    review = PolicyReview.objects.get(version__policy=policy)
    assert (review.decision, review.comment, review.reviewer) == (
        ReviewDecision.CHANGES_REQUESTED,
        "Name the IT contact.",
        personas.consultant,
    )
    assert AuditEvent.objects.filter(
        organisation=personas.organisation, action="policy.changes_requested", actor=personas.consultant
    ).exists()
    assert any("back to Acme Bakery Ltd for changes" in text for text in texts(response))


def test_sending_back_without_a_comment_is_refused(personas, consultant):
    policy = awaiting_policy(personas.organisation)

    response = consultant.post(review_url(policy), {"decision": "send_back", "comment": "  "})

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_REVIEW
    assert not PolicyReview.objects.exists()
    assert any("Say what needs to change" in text for text in texts(response))


def test_a_policy_not_in_review_cannot_be_approved(personas, consultant):
    policy = awaiting_policy(personas.organisation)
    Policy.objects.filter(pk=policy.pk).update(status=PolicyStatus.DRAFT)

    response = consultant.post(review_url(policy), {"decision": "approve"})

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.DRAFT
    assert any("cannot be reviewed" in text for text in texts(response))


def test_a_decision_without_a_choice_changes_nothing(personas, consultant):
    policy = awaiting_policy(personas.organisation)

    consultant.post(review_url(policy), {"decision": "maybe"})

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_REVIEW


def test_another_organisations_policy_cannot_be_reviewed_or_published(personas, consultant):
    theirs = awaiting_policy(personas.other_organisation, title="Rival secret policy")

    assert consultant.post(review_url(theirs), {"decision": "approve"}).status_code == 404
    assert consultant.post(publish_url(theirs)).status_code == 404
    assert consultant.post(review_url(999_999), {"decision": "approve"}).status_code == 404

    theirs.refresh_from_db()
    assert theirs.status == PolicyStatus.IN_REVIEW
    assert not AuditEvent.objects.filter(organisation=personas.other_organisation).exists()


def test_staff_member_without_a_consultant_role_is_refused(personas, client_for):
    policy = awaiting_policy(personas.organisation)
    viewer = client_for(staff(personas.viewer))

    assert viewer.get(CHANGELIST).status_code == 403
    assert viewer.get(change_url(policy)).status_code == 403
    assert viewer.post(review_url(policy), {"decision": "approve"}).status_code == 403

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_REVIEW


def test_anonymous_people_sign_in_and_to_others_than_staff_the_policy_does_not_exist(personas, client_for):
    policy = awaiting_policy(personas.organisation)

    response = client_for(None).post(review_url(policy), {"decision": "approve"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    # Not staff: a 404 for every id, so the URL confirms nothing about other organisations' policies.
    assert client_for(personas.consultant).post(review_url(policy), {"decision": "approve"}).status_code == 404

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_REVIEW


def test_review_urls_only_accept_posts(personas, consultant):
    policy = awaiting_policy(personas.organisation)

    assert consultant.get(review_url(policy)).status_code == 405
    assert consultant.get(publish_url(policy)).status_code == 405


def test_nothing_can_be_added_changed_or_deleted(personas, consultant):
    policy = awaiting_policy(personas.organisation)

    assert consultant.get(reverse("admin:policies_policy_add")).status_code == 403
    assert consultant.post(change_url(policy), {"title": "Changed"}).status_code == 403
    assert (
        consultant.post(reverse("admin:policies_policy_delete", args=[policy.pk]), {"post": "yes"}).status_code == 403
    )
    policy.refresh_from_db()
    assert policy.title == "Acceptable use"


def test_superuser_outside_the_organisation_sees_the_queue_but_the_service_refuses_the_decision(personas, client_for):
    policy = awaiting_policy(personas.organisation)
    root = client_for(UserFactory(is_staff=True, is_superuser=True))

    assert root.get(CHANGELIST).status_code == 200
    response = root.post(review_url(policy), {"decision": "approve"})

    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_REVIEW
    assert any("cannot approve policies" in text for text in texts(response))
