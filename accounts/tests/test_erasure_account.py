"""Deleting one's own account: refused when it would strand an organisation or without the right email and
password; otherwise the person and what is only theirs go, and their work stays as a former member's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Notification, Organisation, User
from accounts.people import FORMER_MEMBER
from accounts.roles import Role
from accounts.tests.factories import (
    DEFAULT_PASSWORD,
    ApiKeyFactory,
    AuditEventFactory,
    DataExportFactory,
    MembershipFactory,
    NotificationFactory,
    OrganisationFactory,
    UserFactory,
)
from assessments.models import PlanTask
from assessments.tests.factories import PlanTaskFactory, ReportRunFactory
from chat.models import Conversation, Message, MessageRole
from chat.tests.factories import ConversationFactory, MessageFactory
from evidence.models import Evidence, EvidenceStatus
from evidence.tests.factories import EvidenceFactory
from policies.models import PolicyAcknowledgement, PolicyVersion
from policies.tests.factories import (
    PolicyAcknowledgementFactory,
    PolicyFactory,
    PolicyReviewFactory,
    PolicyVersionFactory,
)

pytestmark = pytest.mark.django_db

URL = "/account/data/delete/"


def _delete(browser, user: User, **extra: str):
    return browser.post(URL, {"email": user.email, "password": DEFAULT_PASSWORD, **extra})


def _snapshot() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
        Conversation.objects.count(),
        Organisation.objects.filter(deletion_due_at__isnull=False).count(),
    )


# --- The page ----------------------------------------------------------------------------------------
def test_page_says_what_happens_before_anything_is_done(personas, client_for):
    response = client_for(personas.member).get(URL)

    assert response.status_code == 200
    text = response.content.decode()
    assert "nobody can sign in as <strong>member@acme.example</strong> again" in text
    assert "Acme Bakery Ltd" in text
    assert "Former member" in text
    assert 'name="password"' in text


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    response = client_for(None).get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Refusals: nothing changes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"email": "member@acme.example", "password": "not-my-password"},
        {"email": "someone.else@acme.example", "password": DEFAULT_PASSWORD},
        {"email": "", "password": ""},
    ],
    ids=["wrong password", "wrong email", "nothing typed"],
)
def test_wrong_email_or_password_is_refused_and_nothing_changes(personas, client_for, body):
    before = _snapshot()
    browser = client_for(personas.member)

    response = browser.post(URL, body)

    assert response.status_code == 400
    assert _snapshot() == before
    assert browser.session.get("_auth_user_id") == str(personas.member.pk)
    assert len(mail.outbox) == 0


def test_the_only_owner_of_an_organisation_with_other_members_is_refused(personas, client_for):
    before = _snapshot()
    browser = client_for(personas.owner)

    page = browser.get(URL).content.decode()
    response = _delete(browser, personas.owner)

    assert "You are the only owner of <strong>Acme Bakery Ltd</strong>" in page
    assert 'name="password"' not in page, "no form to fill in while it cannot be done"
    assert response.status_code == 400
    assert "only owner of Acme Bakery Ltd" in response.content.decode()
    assert _snapshot() == before


def test_an_owner_with_another_owner_may_go(personas, client_for, django_capture_on_commit_callbacks):
    MembershipFactory(organisation=personas.organisation, role=Role.OWNER, user=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(client_for(personas.owner), personas.owner)
    assert response.status_code == 302
    assert not User.objects.filter(email="owner@acme.example").exists()


def test_the_last_superuser_is_refused(personas, client_for):
    User.objects.filter(pk=personas.member.pk).update(is_superuser=True, is_staff=True)
    before = _snapshot()

    response = _delete(client_for(personas.member), personas.member)

    assert response.status_code == 400
    assert "last superuser" in response.content.decode()
    assert _snapshot() == before


def test_a_superuser_may_go_while_another_is_left(personas, client_for, django_capture_on_commit_callbacks):
    User.objects.filter(pk__in=[personas.member.pk, personas.admin.pk]).update(is_superuser=True, is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete(client_for(personas.member), personas.member).status_code == 302
    assert not User.objects.filter(pk=personas.member.pk).exists()


# --- Organisations nobody else belongs to ----------------------------------------------------------------
def test_the_only_member_must_agree_to_delete_their_organisation(client_for, django_capture_on_commit_callbacks):
    loner = UserFactory(email="sole@trader.example")
    solo = OrganisationFactory(name="Sole Trader Ltd")
    MembershipFactory(organisation=solo, user=loner, role=Role.OWNER)
    browser = client_for(loner)
    before = _snapshot()

    assert "Nobody else belongs to Sole Trader Ltd" in browser.get(URL).content.decode()
    refused = _delete(browser, loner)
    assert refused.status_code == 400
    assert "Tick the box" in refused.content.decode()
    assert _snapshot() == before

    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(browser, loner, delete_sole_organisations="on")

    assert response.status_code == 302
    assert not User.objects.filter(pk=loner.pk).exists()
    solo.refresh_from_db()
    assert solo.deletion_due_at is not None
    assert solo.deletion_due_at > timezone.now() + timedelta(days=14)
    assert AuditEvent.objects.filter(organisation=solo, action="organisation.deletion_requested").exists()
    assert "Sole Trader Ltd" in mail.outbox[0].body
    assert "erased for good" in mail.outbox[0].body


# --- Deleting ------------------------------------------------------------------------------------------
def test_deleting_removes_the_person_and_what_is_only_theirs(personas, client_for, django_capture_on_commit_callbacks):
    member, organisation = personas.member, personas.organisation
    conversation = ConversationFactory(organisation=organisation, user=member)
    MessageFactory.create_batch(2, organisation=organisation, conversation=conversation, author=member)
    NotificationFactory(organisation=organisation, user=member)
    acknowledgement = PolicyAcknowledgementFactory(organisation=organisation, user=member)
    owned = PlanTaskFactory.create_batch(3, organisation=organisation, owner=member)
    evidence = EvidenceFactory(organisation=organisation, owner=member, created_by=member)
    AuditEventFactory(organisation=organisation, actor=member, actor_label=member.email, summary="Did a thing")
    browser = client_for(member)

    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(browser, member)

    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    assert not User.objects.filter(pk=member.pk).exists()
    assert not browser.session.get("_auth_user_id"), "still signed in"
    # What was only theirs is gone.
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert not Notification.objects.filter(user_id=member.pk).exists()
    assert not Membership.objects.filter(user_id=member.pk).exists()
    assert not PolicyAcknowledgement.objects.filter(pk=acknowledgement.pk).exists()
    # Their work stays, with nobody's name on it.
    assert PlanTask.objects.filter(pk__in=[task.pk for task in owned], owner__isnull=True).count() == 3
    evidence.refresh_from_db()
    assert (evidence.owner_id, evidence.created_by_id) == (None, None)
    assert AuditEvent.objects.filter(organisation=organisation, summary="Did a thing", actor__isnull=True).exists()
    # The organisation is told, with what now has no owner.
    told = AuditEvent.objects.get(organisation=organisation, action="membership.account_deleted")
    assert told.summary.startswith("A member deleted their account.")
    assert "3 plan tasks" in told.summary
    assert "1 evidence item" in told.summary
    # And so are they.
    assert [message.to for message in mail.outbox] == [["member@acme.example"]]
    assert "has been deleted" in mail.outbox[0].body
    assert "Acme Bakery Ltd" in mail.outbox[0].body


def test_each_organisation_gets_its_audit_event(personas, client_for, django_capture_on_commit_callbacks):
    other = OrganisationFactory(name="Second Shop Ltd")
    MembershipFactory(organisation=other, user=personas.member, role=Role.MEMBER)
    MembershipFactory(organisation=other, role=Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        _delete(client_for(personas.member), personas.member)
    events = AuditEvent.objects.filter(action="membership.account_deleted")
    assert set(events.values_list("organisation_id", flat=True)) == {personas.organisation.pk, other.pk}
    assert not events.filter(organisation=personas.other_organisation).exists()


def test_kept_work_shows_former_member_on_the_pages(personas, client_for, django_capture_on_commit_callbacks):
    """Every page that names who did something names the deleted person as a former member, never blank."""
    member, organisation = personas.member, personas.organisation
    evidence = EvidenceFactory(
        organisation=organisation,
        created_by=member,
        reviewed_by=member,
        status=EvidenceStatus.ACCEPTED,
        reviewed_at=timezone.now(),
    )
    policy = PolicyFactory(organisation=organisation)
    version = PolicyVersionFactory(
        organisation=organisation, policy=policy, created_by=member, approved_by=member, approved_at=timezone.now()
    )
    PolicyReviewFactory(organisation=organisation, version=version, reviewer=member, comment="Fine by me")
    ReportRunFactory(organisation=organisation, requested_by=member, done=True)
    DataExportFactory(organisation=organisation, requested_by=member)
    ApiKeyFactory(organisation=organisation, created_by=member, name="Member's script")
    AuditEventFactory(organisation=organisation, actor=member, actor_label=member.email, summary="Changed a thing")
    owners_question = ConversationFactory(organisation=organisation, user=personas.owner)
    MessageFactory(
        organisation=organisation,
        conversation=owners_question,
        role=MessageRole.CONSULTANT,
        author=member,
        content="Here is what I would do.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete(client_for(member), member).status_code == 302
    assert PolicyVersion.objects.filter(pk=version.pk, approved_by__isnull=True, created_by__isnull=True).exists()

    owner = client_for(personas.owner)
    owner.get("/")
    pages = {
        "evidence": reverse("evidence_detail", kwargs={"evidence_id": evidence.pk}),
        "policy": reverse("policy_detail", kwargs={"policy_id": policy.pk}),
        "reports": reverse("reports"),
        "audit log": reverse("audit_log"),
        "exports": reverse("settings_data_export"),
        "api keys": reverse("settings_api_keys"),
        "assistant": reverse("assistant_conversation", kwargs={"conversation_id": owners_question.pk}),
    }
    for name, url in pages.items():
        response = owner.get(url)
        assert response.status_code == 200, name
        text = response.content.decode()
        assert FORMER_MEMBER in text, f"the {name} page does not name the former member"
        assert "member@acme.example" not in text, f"the {name} page still names the deleted person"
    evidence_page = owner.get(pages["evidence"]).content.decode()
    assert f"Added by {FORMER_MEMBER}" in evidence_page
    assert f"by {FORMER_MEMBER} on" in evidence_page
    assert f"{FORMER_MEMBER}, consultant" in owner.get(pages["assistant"]).content.decode()


def test_audit_log_keeps_labels_of_api_keys_and_the_system(personas, client_for):
    AuditEventFactory(organisation=personas.organisation, actor=None, actor_label="system", summary="Nightly")
    AuditEventFactory(
        organisation=personas.organisation, actor=None, actor_label="API key Xero sync (glk_ab12)", summary="Synced"
    )
    browser = client_for(personas.owner)
    browser.get("/")
    text = browser.get(reverse("audit_log")).content.decode()
    assert "API key Xero sync (glk_ab12)" in text
    assert ">system<" in text
    assert FORMER_MEMBER not in text


def test_an_organisations_deletion_they_asked_for_stays_planned(
    personas, client_for, django_capture_on_commit_callbacks
):
    """Another owner asked for the deletion, then deleted their account: the deletion still goes ahead."""
    second_owner = MembershipFactory(organisation=personas.organisation, role=Role.OWNER, user=UserFactory()).user
    due = timezone.now() + timedelta(days=5)
    Organisation.objects.filter(pk=personas.organisation.pk).update(
        deletion_requested_at=timezone.now(), deletion_due_at=due, deletion_requested_by=second_owner
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete(client_for(second_owner), second_owner).status_code == 302
    personas.organisation.refresh_from_db()
    assert personas.organisation.deletion_due_at == due
    assert personas.organisation.deletion_requested_by is None
    assert Evidence.objects.count() == 0  # nothing else touched
