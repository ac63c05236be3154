"""adoptions/ in the API: list, adopt (`framework_adopt`), read and drop (`framework_drop`) frameworks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.scopes import Scope
from assessments.models import AssessmentRound, FrameworkAdoption
from assessments.tests.factories import FrameworkAdoptionFactory
from compliance.tests.factories import FrameworkFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery/"
LIST = f"{BASE}adoptions/"


def session_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def test_listing_adopted_frameworks_with_their_target_dates(personas, api_for):
    target = timezone.localdate() + timedelta(days=90)
    adoption = FrameworkAdoptionFactory(
        organisation=personas.organisation,
        framework=FrameworkFactory(slug="cyber-essentials", name="Cyber Essentials"),
        target_date=target,
    )
    FrameworkAdoptionFactory(organisation=personas.other_organisation)

    response = api_for(personas.organisation, scopes=[Scope.ASSESSMENTS_READ]).get(LIST)

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "id": adoption.pk,
            "url": f"http://testserver{LIST}{adoption.pk}/",
            "framework": {
                "slug": "cyber-essentials",
                "name": "Cyber Essentials",
                "url": "http://testserver/api/v1/frameworks/cyber-essentials/",
            },
            "target_date": target.isoformat(),
            "adopted_at": response.json()["results"][0]["adopted_at"],
        }
    ]


def test_listing_costs_the_same_for_one_adoption_or_many(personas, api_for, django_assert_num_queries):
    client = api_for(personas.organisation)
    FrameworkAdoptionFactory(organisation=personas.organisation)
    client.get(LIST)

    with django_assert_num_queries(2):  # the key with its organisation, the adoptions with their frameworks
        assert len(client.get(LIST).json()["results"]) == 1
    FrameworkAdoptionFactory.create_batch(4, organisation=personas.organisation)
    with django_assert_num_queries(2):
        assert len(client.get(LIST).json()["results"]) == 5


def test_adopting_a_framework_answers_201_with_its_location(personas, api_for):
    FrameworkFactory(slug="cyber-essentials", name="Cyber Essentials")
    client = api_for(personas.organisation, scopes=[Scope.ASSESSMENTS_WRITE])

    response = client.post(LIST, {"framework": "cyber-essentials", "target_date": in_days(30)}, format="json")

    assert response.status_code == 201, response.json()
    adoption = FrameworkAdoption.objects.get(organisation=personas.organisation)
    assert response["Location"] == f"http://testserver{LIST}{adoption.pk}/"
    assert response.json()["target_date"] == in_days(30)
    assert adoption.adopted_by is None  # a key, not a person
    assert AuditEvent.objects.filter(action="framework.adopted").count() == 1
    # Its controls join the assessment: the open round exists.
    assert AssessmentRound.objects.filter(organisation=personas.organisation, closed_at__isnull=True).exists()


def test_adopting_again_sets_the_target_date_and_answers_200(personas, api_for):
    adoption = FrameworkAdoptionFactory(
        organisation=personas.organisation, framework=FrameworkFactory(slug="uk-gdpr"), target_date=None
    )

    response = api_for(personas.organisation).post(
        LIST, {"framework": "uk-gdpr", "target_date": in_days(10)}, format="json"
    )

    assert response.status_code == 200
    adoption.refresh_from_db()
    assert adoption.target_date.isoformat() == in_days(10)
    assert FrameworkAdoption.objects.count() == 1


def test_a_retried_adoption_with_the_same_idempotency_key_is_replayed(personas, api_for):
    FrameworkFactory(slug="uk-gdpr")
    client = api_for(personas.organisation)

    first = client.post(LIST, {"framework": "uk-gdpr"}, format="json", HTTP_IDEMPOTENCY_KEY="adopt-gdpr-1")
    second = client.post(LIST, {"framework": "uk-gdpr"}, format="json", HTTP_IDEMPOTENCY_KEY="adopt-gdpr-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert second.json() == first.json()
    assert AuditEvent.objects.filter(action="framework.adopted").count() == 1


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"framework": "no-such-framework"}, "framework", "No framework has the slug"),
        ({}, "framework", "This field is required."),
        ({"framework": "uk-gdpr", "target_date": "yesterday"}, "target_date", "Date has wrong format"),
        ({"framework": "uk-gdpr", "target_date": "2001-01-01"}, "target_date", "Choose a target date in the future."),
    ],
)
def test_invalid_adoptions_are_refused_field_by_field(personas, api_for, payload, field, message):
    FrameworkFactory(slug="uk-gdpr")

    response = api_for(personas.organisation).post(LIST, payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in str(response.json()["errors"][field])
    assert not FrameworkAdoption.objects.exists()


def test_reading_one_adoption(personas, api_for):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation)

    response = api_for(personas.organisation).get(f"{LIST}{adoption.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == adoption.pk


def test_dropping_a_framework_answers_204_and_records_it(personas, api_for):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation)

    response = api_for(personas.organisation, scopes=[Scope.ASSESSMENTS_WRITE]).delete(f"{LIST}{adoption.pk}/")

    assert response.status_code == 204
    assert not FrameworkAdoption.objects.exists()
    assert AuditEvent.objects.filter(action="framework.dropped").count() == 1


def test_another_organisations_adoption_is_not_found(personas, api_for):
    theirs = FrameworkAdoptionFactory(organisation=personas.other_organisation)
    client = api_for(personas.organisation)

    assert client.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert client.delete(f"{LIST}{theirs.pk}/").status_code == 404
    assert FrameworkAdoption.objects.filter(pk=theirs.pk).exists()


# --- Who may ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "detail", "scope"),
    [
        ("get", False, Scope.ASSESSMENTS_READ),
        ("post", False, Scope.ASSESSMENTS_WRITE),
        ("get", True, Scope.ASSESSMENTS_READ),
        ("delete", True, Scope.ASSESSMENTS_WRITE),
    ],
)
def test_each_operation_needs_its_scope(personas, api_for, method, detail, scope):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation)
    client = api_for(personas.organisation, scopes=set(Scope) - {scope})

    response = getattr(client, method)(f"{LIST}{adoption.pk}/" if detail else LIST, {}, format="json")

    assert response.status_code == 403
    assert str(scope) in response.json()["detail"]
    assert FrameworkAdoption.objects.filter(pk=adoption.pk).exists()


def test_without_a_key_the_answer_is_401(personas):
    assert APIClient().get(LIST).status_code == 401


def test_a_viewer_cannot_adopt_or_drop(personas):
    adoption = FrameworkAdoptionFactory(organisation=personas.organisation)
    FrameworkFactory(slug="uk-gdpr")
    client = session_for(personas.viewer)

    assert client.get(LIST).status_code == 200
    assert client.post(LIST, {"framework": "uk-gdpr"}, format="json").status_code == 403
    assert client.delete(f"{LIST}{adoption.pk}/").status_code == 403
    assert FrameworkAdoption.objects.count() == 1
