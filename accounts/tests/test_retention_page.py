"""The retention settings page: owners and admins change the four periods within their bounds (audited, old
and new); everyone else reads them; what tonight's run will delete is said per setting, in one query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts import retention
from accounts.audit import Actor
from accounts.models import AuditEvent, Organisation
from accounts.retention import KINDS
from accounts.tests.factories import AuditEventFactory
from assessments.tests.factories import ReportRunFactory
from chat.tests.factories import AICallFactory, ConversationFactory

pytestmark = pytest.mark.django_db

PAGE = "/settings/retention/"
REQUEST_BASELINE = 3  # session, user, memberships
DEFAULTS = {
    "conversation_retention_days": 365,
    "ai_call_retention_days": 90,
    "audit_event_retention_days": 2190,
    "report_run_retention_days": 365,
}


@pytest.fixture
def browser_for(client_for):
    def make(user):
        browser = client_for(user)
        browser.get("/")  # settle the session's current organisation
        return browser

    return make


def stored(organisation: Organisation) -> dict[str, int]:
    organisation.refresh_from_db()
    return {field: getattr(organisation, field) for field in DEFAULTS}


# --- Who may see and change it ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_get_the_form(personas, browser_for, role):
    response = browser_for(getattr(personas, role)).get(PAGE)

    assert response.status_code == 200
    assert response.context["section"] == "retention"
    body = response.content.decode()
    assert 'name="conversation_retention_days"' in body
    assert "Save retention settings" in body


@pytest.mark.parametrize("role", ["member", "viewer", "consultant"])
def test_everyone_else_reads_the_settings_in_words(personas, browser_for, role):
    response = browser_for(getattr(personas, role)).get(PAGE)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="conversation_retention_days"' not in body
    assert "6 years" in body
    assert "90 days" in body
    assert "Only owners and admins can change how long records are kept." in body


@pytest.mark.parametrize("role", ["member", "viewer", "consultant"])
def test_everyone_else_cannot_change_them(personas, browser_for, role):
    response = browser_for(getattr(personas, role)).post(PAGE, {**DEFAULTS, "conversation_retention_days": 30})

    assert response.status_code == 403
    assert stored(personas.organisation) == DEFAULTS
    assert not AuditEvent.objects.filter(action="organisation.retention_changed").exists()


def test_an_outsider_sees_only_their_own_organisations_settings(personas, browser_for):
    personas.organisation.conversation_retention_days = 730
    personas.organisation.save()

    response = browser_for(personas.outsider).get(PAGE)

    assert response.status_code == 200
    assert response.context["settings"][0].days == 365
    assert response.context["current_organisation"] == personas.other_organisation


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(personas, browser_for, method):
    assert getattr(browser_for(personas.owner), method)(PAGE).status_code == 405


# --- Changing them --------------------------------------------------------------------------------------------
def test_saving_records_each_change_old_and_new(personas, browser_for):
    response = browser_for(personas.admin).post(
        PAGE, {**DEFAULTS, "conversation_retention_days": 730, "audit_event_retention_days": 2555}, follow=True
    )

    assert response.redirect_chain == [(PAGE, 302)]
    assert stored(personas.organisation) == {
        **DEFAULTS,
        "conversation_retention_days": 730,
        "audit_event_retention_days": 2555,
    }
    event = AuditEvent.objects.get(organisation=personas.organisation, action="organisation.retention_changed")
    assert (
        event.summary == "Retention changed: assistant conversations 1 year → 2 years; audit events 6 years → 7 years"
    )
    assert event.actor == personas.admin
    assert "Retention saved: assistant conversations 1 year → 2 years" in response.content.decode()


def test_saving_what_is_already_there_records_nothing(personas, browser_for):
    response = browser_for(personas.owner).post(PAGE, DEFAULTS, follow=True)

    assert "Nothing changed" in response.content.decode()
    assert not AuditEvent.objects.filter(action="organisation.retention_changed").exists()


def test_the_saved_message_says_what_tonight_will_delete(personas, browser_for):
    idle = timezone.now() - timedelta(days=60)
    for _ in range(3):
        ConversationFactory(organisation=personas.organisation, created_at=idle, updated_at=idle)

    response = browser_for(personas.owner).post(PAGE, {**DEFAULTS, "conversation_retention_days": 30}, follow=True)

    assert "Tonight&#x27;s run will delete 3 conversations." in response.content.decode()


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.field)
@pytest.mark.parametrize(("offset", "accepted"), [(-1, False), (0, True)])
def test_the_lower_bound(personas, browser_for, kind, offset, accepted):
    value = kind.minimum + offset
    response = browser_for(personas.owner).post(PAGE, {**DEFAULTS, kind.field: value})

    if accepted:
        assert response.status_code == 302
        assert stored(personas.organisation)[kind.field] == value
    else:
        assert response.status_code == 400
        assert (
            f"Keep {kind.label.lower()} for at least {retention.in_words(kind.minimum)}." in response.content.decode()
        )
        assert stored(personas.organisation) == DEFAULTS


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.field)
@pytest.mark.parametrize(("offset", "accepted"), [(0, True), (1, False)])
def test_the_upper_bound(personas, browser_for, kind, offset, accepted):
    value = kind.maximum + offset
    response = browser_for(personas.owner).post(PAGE, {**DEFAULTS, kind.field: value})

    if accepted:
        assert response.status_code == 302
        assert stored(personas.organisation)[kind.field] == value
    else:
        assert response.status_code == 400
        assert f"for at most {retention.in_words(kind.maximum)}" in response.content.decode()
        assert stored(personas.organisation) == DEFAULTS


def test_the_audit_trail_cannot_be_shorter_than_a_year_and_the_page_says_why(personas, browser_for):
    response = browser_for(personas.owner).post(PAGE, {**DEFAULTS, "audit_event_retention_days": 90})

    body = response.content.decode()
    assert "Keep audit events for at least 1 year." in body
    assert "a shorter trail defeats its purpose" in body


@pytest.mark.parametrize("value", ["", "a year", "12.5", "-5"])
def test_what_is_not_a_number_of_days_is_refused(personas, browser_for, value):
    response = browser_for(personas.owner).post(PAGE, {**DEFAULTS, "report_run_retention_days": value})

    assert response.status_code == 400
    assert response.context["form"].errors["report_run_retention_days"]
    assert stored(personas.organisation) == DEFAULTS


def test_the_service_checks_the_bounds_and_the_role_too(personas):
    organisation = personas.organisation
    with pytest.raises(ValidationError) as refused:
        retention.retention_settings_update(
            organisation=organisation, actor=Actor(user=personas.owner), days={"ai_call_retention_days": 731}
        )
    assert "ai_call_retention_days" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        retention.retention_settings_update(
            organisation=organisation, actor=Actor(user=personas.member), days={"ai_call_retention_days": 30}
        )
    assert stored(organisation) == DEFAULTS


# --- What tonight will delete ------------------------------------------------------------------------------------
def test_each_setting_says_what_tonight_will_delete(personas, browser_for):
    organisation = personas.organisation
    old = timezone.now() - timedelta(days=400)
    for _ in range(3):
        ConversationFactory(organisation=organisation, created_at=old, updated_at=old)
    ConversationFactory(organisation=personas.other_organisation, created_at=old, updated_at=old)
    AuditEventFactory(organisation=organisation, created_at=timezone.now() - timedelta(days=2200))

    response = browser_for(personas.viewer).get(PAGE)

    body = response.content.decode()
    assert "3 conversations with no activity for over 1 year will be deleted tonight." in body
    assert "1 audit event older than 6 years will be deleted tonight." in body
    assert "No AI request records older than 90 days: nothing will be deleted tonight." in body
    assert "No report runs older than 1 year: nothing will be deleted tonight." in body


@pytest.mark.parametrize("rows", [0, 12])
def test_the_page_does_not_grow_with_the_rows(personas, browser_for, django_assert_num_queries, rows):
    organisation = personas.organisation
    old = timezone.now() - timedelta(days=3000)
    for _ in range(rows):
        ConversationFactory(organisation=organisation, created_at=old, updated_at=old)
        AICallFactory(organisation=organisation, created_at=old)
        AuditEventFactory(organisation=organisation, created_at=old)
        ReportRunFactory(organisation=organisation, created_at=old)
    browser = browser_for(personas.owner)

    # + what tonight's run will delete, all four kinds in one query
    with django_assert_num_queries(REQUEST_BASELINE + 1):
        response = browser.get(PAGE)
    assert [setting.due for setting in response.context["settings"]] == [rows] * 4
