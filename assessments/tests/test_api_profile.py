"""profile/ in the API: read the business profile, change it through `profile_update`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.scopes import Scope
from assessments.models import BusinessProfile
from assessments.tests.factories import BusinessProfileFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/organisations/acme-bakery/profile/"


def session_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_a_profile_not_yet_saved_reads_as_blank_and_is_not_created(personas, api_for):
    response = api_for(personas.organisation, scopes=[Scope.PROFILE_READ]).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["company_name"] == "Acme Bakery Ltd"
    assert body["card_handling"] == "none"
    assert body["customer_regions"] == []
    assert body["completed_at"] is None
    assert body["url"] == "http://testserver/api/v1/organisations/acme-bakery/profile/"
    assert not BusinessProfile.objects.exists()


def test_reading_the_saved_profile(personas, api_for, django_assert_num_queries):
    BusinessProfileFactory(
        organisation=personas.organisation,
        company_name="Acme Bakery Ltd",
        company_number="01234567",
        customer_regions=["uk", "eu"],
        goal="insurance",
    )
    client = api_for(personas.organisation)
    client.get(URL)  # the key's first use is recorded once; later calls cost the same

    with django_assert_num_queries(2):  # the key with its organisation, the profile
        response = client.get(URL)

    body = response.json()
    assert body["company_number"] == "01234567"
    assert body["customer_regions"] == ["uk", "eu"]
    assert body["goal"] == "insurance"
    assert body["customers_personal_data"] is True


def test_patching_changes_only_the_fields_sent_and_records_it(personas, api_for):
    profile = BusinessProfileFactory(organisation=personas.organisation, last_step="data", goal="win-work")
    client = api_for(personas.organisation, scopes=[Scope.PROFILE_WRITE])

    response = client.patch(
        URL,
        {"card_handling": "hosted", "customer_regions": ["uk", "us", "uk"], "company_number": "sc 123456"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["card_handling"] == "hosted"
    assert body["customer_regions"] == ["uk", "us"]
    assert body["company_number"] == "SC123456"
    profile.refresh_from_db()
    assert profile.card_handling == "hosted"
    assert profile.goal == "win-work"  # not sent, kept
    assert profile.last_step == "data"  # the wizard resumes where it was
    event = AuditEvent.objects.get(action="profile.updated")
    assert event.actor is None
    assert "API key" in event.actor_label


def test_patching_before_any_profile_creates_it(personas, api_for):
    response = api_for(personas.organisation).patch(URL, {"website": True}, format="json")

    assert response.status_code == 200
    assert BusinessProfile.objects.get(organisation=personas.organisation).website is True


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"card_handling": "cheque"}, "card_handling", "is not a valid choice"),
        ({"customer_regions": ["mars"]}, "customer_regions", "is not a valid choice"),
        ({"company_number": "12AB"}, "company_number", "8-character Companies House number"),
        ({"company_name": ""}, "company_name", "Enter your company's name."),
        ({"website": "perhaps"}, "website", "Must be a valid boolean"),
    ],
)
def test_invalid_values_are_refused_field_by_field(personas, api_for, payload, field, message):
    response = api_for(personas.organisation).patch(URL, payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in str(response.json()["errors"][field])
    assert not BusinessProfile.objects.exists()


def test_a_deadline_in_the_past_is_refused(personas, api_for):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    response = api_for(personas.organisation).patch(URL, {"deadline": yesterday}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["deadline"] == ["Choose a date in the future."]


# --- Who may ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "scope"), [("get", Scope.PROFILE_READ), ("patch", Scope.PROFILE_WRITE)])
def test_each_operation_needs_its_scope(personas, api_for, method, scope):
    client = api_for(personas.organisation, scopes=set(Scope) - {scope})

    response = getattr(client, method)(URL, {}, format="json")

    assert response.status_code == 403
    assert str(scope) in response.json()["detail"]


def test_without_a_key_the_answer_is_401(personas):
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_another_organisations_key_cannot_reach_it(personas, api_for):
    response = api_for(personas.other_organisation).get(URL)

    assert response.status_code == 404


def test_a_viewer_reads_but_cannot_change_the_profile(personas):
    client = session_for(personas.viewer)

    assert client.get(URL).status_code == 200
    response = client.patch(URL, {"website": True}, format="json")
    assert response.status_code == 403
    assert not BusinessProfile.objects.exists()


def test_a_member_changes_it_from_the_browser_session(personas):
    response = session_for(personas.member).patch(URL, {"website": True}, format="json")

    assert response.status_code == 200
    assert AuditEvent.objects.get(action="profile.updated").actor == personas.member
