"""The "Download my data" file: what it holds, what it never holds, and that it misses no model that names a
person."""

from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import personal_export
from accounts.models import Membership, NotificationPreference
from accounts.roles import Role
from accounts.tests.factories import (
    AuditEventFactory,
    InvitationFactory,
    MembershipFactory,
    NotificationFactory,
    OrganisationFactory,
    UserFactory,
)
from assessments.tests.factories import PlanTaskFactory
from chat.tests.factories import ConversationFactory, MessageFactory
from policies.tests.factories import PolicyAcknowledgementFactory
from tests.isolation import build_tenant_data, hand_over

pytestmark = pytest.mark.django_db

TOTP_SECRET = "JBSWY3DPEHPK3PXPSECRETSECRET"


def _download(client_for, user) -> tuple[object, dict]:
    response = client_for(user).get(reverse("account_data_export"))
    return response, json.loads(response.content)


def test_download_is_a_private_json_attachment(personas, client_for):
    response, data = _download(client_for, personas.member)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="greenlight-personal-data-')
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert data["format"] == "greenlight-personal-data"
    assert data["account"]["email"] == "member@acme.example"


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    response = client_for(None).get(reverse("account_data_export"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_file_holds_the_persons_account_memberships_messages_and_actions(personas, client_for):
    user = personas.member
    elsewhere = OrganisationFactory(name="Side Hustle Ltd")
    MembershipFactory(organisation=elsewhere, user=user, role=Role.OWNER)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    conversation = ConversationFactory(organisation=personas.organisation, user=user, title="Backups question")
    MessageFactory(
        organisation=personas.organisation,
        conversation=conversation,
        role="user",
        author=user,
        content="How often should we back up?",
    )
    AuditEventFactory(organisation=personas.organisation, actor=user, summary="Changed the backup answer")
    NotificationFactory(organisation=personas.organisation, user=user, title="Evidence expires soon")
    NotificationPreference.objects.create(user=user, kind="evidence_expiring", channel="email")
    InvitationFactory(organisation=elsewhere, invited_by=user, email="friend@example.co.uk")
    PolicyAcknowledgementFactory(organisation=personas.organisation, user=user)
    # Someone else's conversation and action: not theirs, not in their file.
    ConversationFactory(organisation=personas.organisation, user=personas.admin, title="Admin's own question")
    AuditEventFactory(organisation=personas.organisation, actor=personas.admin, summary="Admin did something")

    _response, data = _download(client_for, user)

    assert {m["organisation"]["name"]: m["role"] for m in data["memberships"]} == {
        "Acme Bakery Ltd": "member",
        "Side Hustle Ltd": "owner",
    }
    assert data["email_addresses"] == [{"email": user.email, "verified": True, "primary": True}]
    assert [c["title"] for c in data["conversations"]] == ["Backups question"]
    assert data["conversations"][0]["messages"][0]["content"] == "How often should we back up?"
    assert data["conversations"][0]["messages"][0]["written_by_you"] is True
    assert [a["summary"] for a in data["actions"]] == ["Changed the backup answer"]
    assert [n["title"] for n in data["notifications"]] == ["Evidence expires soon"]
    assert data["notification_preferences"][0]["channel"] == "email"
    assert [i["email"] for i in data["invitations"]["sent"]] == ["friend@example.co.uk"]
    assert len(data["policy_acknowledgements"]) == 1
    assert data["two_factor"] == {"enabled": False, "methods": []}


def test_file_never_holds_the_password_hash_or_two_factor_secrets(personas, client_for):
    user = personas.member
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": TOTP_SECRET})
    Authenticator.objects.create(user=user, type=Authenticator.Type.RECOVERY_CODES, data={"seed": TOTP_SECRET})

    response, data = _download(client_for, user)

    body = response.content.decode()
    assert data["two_factor"]["enabled"] is True
    assert [m["type"] for m in data["two_factor"]["methods"]] == ["totp", "recovery_codes"]
    assert TOTP_SECRET not in body
    user.refresh_from_db()
    assert user.password
    assert user.password not in body
    assert "password" not in data["account"]


def test_every_relation_to_a_person_is_in_the_file():
    """A model added later with a foreign key to the user model must land in the file: either a section
    laid out by hand names it, or the generic records carry it. Stale names in the sections fail too."""
    labels = {relation.label for relation in personal_export.user_relations()}
    assert labels >= personal_export.COVERED_BY_SECTIONS, "a section names a relation that no longer exists"
    generic = {relation.label for relation in personal_export.other_relations()}
    assert generic | personal_export.COVERED_BY_SECTIONS == labels
    # The relations the issue names are among them, so discovery itself is not broken.
    assert {"evidence.evidence.owner", "assessments.answer.updated_by", "assessments.plantask.owner"} <= generic


def test_every_row_that_names_the_person_is_in_the_file(personas):
    """Rows of every tenant model, handed over to one person: each relation's rows are in the file, by id."""
    user = UserFactory(email="everywhere@acme.example")
    Membership.objects.create(organisation=personas.organisation, user=user, role=Role.MEMBER)
    build_tenant_data(personas.organisation, per_model=1)
    assert hand_over(personas.organisation, user) > 0

    data = personal_export.personal_data(user)

    exported = {f"{record['model']}.{record['relation']}": record for record in data["other_records"]}
    assert set(exported) == {relation.label for relation in personal_export.other_relations()}
    checked = 0
    for relation in personal_export.other_relations():
        expected = set(relation.model._base_manager.filter(**{relation.field: user}).values_list("pk", flat=True))
        assert {item["id"] for item in exported[relation.label]["items"]} == expected, relation.label
        checked += bool(expected)
        for item in exported[relation.label]["items"]:
            if item["organisation"] is not None:
                assert item["organisation"]["name"], relation.label
    assert checked >= 15, "expected the tenant data to name the person through most relations"


def test_the_download_does_not_query_per_row(personas, client_for):
    user = personas.member
    browser = client_for(user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(reverse("account_data_export")).status_code == 200
        return len(captured)

    def add(count: int) -> None:
        for _ in range(count):
            conversation = ConversationFactory(organisation=personas.organisation, user=user)
            MessageFactory.create_batch(3, organisation=personas.organisation, conversation=conversation, author=user)
            AuditEventFactory(organisation=personas.organisation, actor=user)
            NotificationFactory(organisation=personas.organisation, user=user)

    browser.get("/")  # settle the session's current organisation
    add(1)
    few = queries()
    add(6)
    assert queries() == few


def test_organisations_they_have_left_keep_their_records_to_themselves(personas, client_for):
    """What Rival still holds that names someone who left it is Rival's to give, not theirs to download."""
    user = personas.member
    rival = personas.other_organisation
    membership = MembershipFactory(organisation=rival, user=user, role=Role.MEMBER)
    PlanTaskFactory(organisation=rival, owner=user, title="Rival's secret launch plan")
    AuditEventFactory(organisation=rival, actor=user, summary="Edited Rival's pricing")
    ConversationFactory(organisation=rival, user=user, title="Rival's margins")
    PlanTaskFactory(organisation=personas.organisation, owner=user, title="Acme's own task")
    assert "Rival's secret launch plan" in _download(client_for, user)[0].content.decode()

    membership.delete()
    response, _data = _download(client_for, user)

    body = response.content.decode()
    assert "Acme's own task" in body
    for secret in ("Rival's secret launch plan", "Edited Rival's pricing", "Rival's margins", "Rival Widgets plc"):
        assert secret not in body
