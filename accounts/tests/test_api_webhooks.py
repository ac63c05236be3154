"""Webhooks in the API: who may call each operation, partners seeing only their own endpoints, the secret
shown once, validation, the delivery log, test events against a real receiver, and constant queries."""

from __future__ import annotations

import pytest

from accounts.models import DeliveryStatus, WebhookEndpoint
from accounts.scopes import Scope
from accounts.tests.factories import (
    PartnerFactory,
    PartnerGrantFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from accounts.tests.webhook_receiver import running_receiver

pytestmark = pytest.mark.django_db

_receiver = pytest.fixture(name="receiver")(running_receiver)

BASE = "/api/v1/organisations/acme-bakery"
OTHER_SCOPES = [scope for scope in Scope if scope != Scope.WEBHOOKS_MANAGE]
NEW = {"target_url": "https://hooks.acme-bakery.co.uk/greenlight", "events": ["evidence.expired"]}


@pytest.fixture
def endpoint(personas):
    return WebhookEndpointFactory(organisation=personas.organisation, events=["evidence.expired", "report.ready"])


def operations(endpoint_id: int) -> list[tuple[str, str, dict | None]]:
    one = f"{BASE}/webhooks/{endpoint_id}/"
    return [
        ("get", f"{BASE}/webhooks/", None),
        ("post", f"{BASE}/webhooks/", NEW),
        ("get", one, None),
        ("patch", one, {"description": "Changed"}),
        ("delete", one, None),
        ("get", f"{one}deliveries/", None),
        ("post", f"{one}test/", None),
        ("get", f"{BASE}/webhook-events/", None),
    ]


def call(client, method: str, url: str, data: dict | None):
    return getattr(client, method)(url, data, format="json") if data is not None else getattr(client, method)(url)


# --- Who may call ----------------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(8))
def test_every_operation_needs_the_webhooks_manage_scope(personas, api_for, endpoint, index, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the address in NEW is not resolved
    method, url, data = operations(endpoint.pk)[index]
    refused = call(api_for(personas.organisation, scopes=OTHER_SCOPES), method, url, data)
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert "webhooks:manage" in refused.json()["detail"]
    allowed = call(api_for(personas.organisation, scopes=[Scope.WEBHOOKS_MANAGE]), method, url, data)
    assert allowed.status_code in (200, 201, 202, 204)


@pytest.mark.parametrize("index", range(8))
def test_every_operation_needs_a_key(api_for, endpoint, index):
    from rest_framework.test import APIClient

    method, url, data = operations(endpoint.pk)[index]
    response = call(APIClient(), method, url, data)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("index", [2, 3, 4, 5, 6])
def test_another_organisations_endpoint_is_not_found(personas, api_for, index):
    theirs = WebhookEndpointFactory(organisation=personas.other_organisation)
    method, url, data = operations(theirs.pk)[index]
    response = call(api_for(personas.organisation), method, url, data)
    assert response.status_code == 404
    assert WebhookEndpoint.objects.filter(pk=theirs.pk, description=theirs.description).exists()


def test_a_viewer_signed_in_cannot_read_or_change_webhooks_and_an_admin_can(personas, client_for, endpoint, receiver):
    viewer = client_for(personas.viewer)
    assert viewer.get(f"{BASE}/webhooks/").status_code == 403
    refused = viewer.post(
        f"{BASE}/webhooks/", {"target_url": receiver.url, "events": ["report.ready"]}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert viewer.delete(f"{BASE}/webhooks/{endpoint.pk}/").status_code == 403
    admin = client_for(personas.admin)
    created = admin.post(
        f"{BASE}/webhooks/", {"target_url": receiver.url, "events": ["report.ready"]}, content_type="application/json"
    )
    assert created.status_code == 201
    assert admin.delete(f"{BASE}/webhooks/{endpoint.pk}/").status_code == 204


# --- Partners and the organisation each see their own ------------------------------------------------
def test_a_partner_manages_only_its_own_endpoints_and_the_organisation_only_its_own(
    personas, api_for, endpoint, receiver
):
    partner = PartnerFactory(slug="ledger-partners")
    PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    as_partner = api_for(partner=partner)
    created = as_partner.post(
        f"{BASE}/webhooks/", {"target_url": receiver.url, "events": ["readiness.changed"]}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["partner"] == "ledger-partners"
    partners_id = created.json()["id"]

    assert [row["id"] for row in as_partner.get(f"{BASE}/webhooks/").json()["results"]] == [partners_id]
    assert as_partner.get(f"{BASE}/webhooks/{endpoint.pk}/").status_code == 404
    assert as_partner.delete(f"{BASE}/webhooks/{endpoint.pk}/").status_code == 404

    as_organisation = api_for(personas.organisation)
    assert [row["id"] for row in as_organisation.get(f"{BASE}/webhooks/").json()["results"]] == [endpoint.pk]
    assert as_organisation.get(f"{BASE}/webhooks/{partners_id}/").status_code == 404
    assert WebhookEndpoint.objects.get(pk=partners_id).partner == partner


def test_a_partner_without_webhooks_in_its_grant_is_refused(personas, api_for):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=["readiness:read"])
    assert api_for(partner=partner).get(f"{BASE}/webhooks/").status_code == 403


# --- Creating, changing, removing ------------------------------------------------------------------
def test_creating_answers_201_with_location_and_the_secret_shown_only_then(personas, api_for, receiver):
    client = api_for(personas.organisation)
    response = client.post(
        f"{BASE}/webhooks/",
        {"target_url": receiver.url, "description": "Helpdesk tickets", "events": ["task.overdue", "report.ready"]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == body["url"] == f"http://testserver{BASE}/webhooks/{body['id']}/"
    assert body["secret"].startswith("whsec_")
    assert body["target_url"] == receiver.url
    assert body["events"] == ["task.overdue", "report.ready"]
    assert body["deliveries_url"] == f"http://testserver{BASE}/webhooks/{body['id']}/deliveries/"
    shown_later = client.get(body["url"])
    assert "secret" not in shown_later.json()
    assert body["secret"] not in shown_later.content.decode()
    assert body["secret"] not in client.get(f"{BASE}/webhooks/").content.decode()


def test_a_private_or_plain_address_is_refused_under_target_url(personas, api_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    client = api_for(personas.organisation)
    for url, message in [
        ("http://hooks.acme-bakery.co.uk/", "Use an https:// address"),
        ("https://127.0.0.1/hooks", "private, local or reserved"),
    ]:
        response = client.post(f"{BASE}/webhooks/", {"target_url": url, "events": ["report.ready"]}, format="json")
        assert response.status_code == 400
        assert message in response.json()["errors"]["target_url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_unknown_or_missing_events_are_refused(personas, api_for, receiver):
    client = api_for(personas.organisation)
    unknown = client.post(f"{BASE}/webhooks/", {"target_url": receiver.url, "events": ["ping"]}, format="json")
    assert unknown.status_code == 400
    assert "events" in unknown.json()["errors"]
    none = client.post(f"{BASE}/webhooks/", {"target_url": receiver.url, "events": []}, format="json")
    assert none.json()["errors"]["events"] == ["Choose at least one event."]


def test_patch_changes_events_and_turns_the_endpoint_off_and_on(personas, api_for, endpoint):
    client = api_for(personas.organisation)
    url = f"{BASE}/webhooks/{endpoint.pk}/"
    changed = client.patch(url, {"events": ["policy.published"], "description": "Intranet"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["description"]) == (["policy.published"], "Intranet")

    off = client.patch(url, {"is_active": False}, format="json").json()
    assert off["is_active"] is False
    assert off["disabled_reason"].startswith("Turned off by")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=5)
    on = client.patch(url, {"is_active": True}, format="json").json()
    assert (on["is_active"], on["disabled_reason"], on["consecutive_failures"]) == (True, "", 0)


def test_a_bad_patch_changes_nothing(personas, api_for, endpoint, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = api_for(personas.organisation).patch(
        f"{BASE}/webhooks/{endpoint.pk}/",
        {"target_url": "https://10.0.0.9/hooks", "is_active": False},
        format="json",
    )
    assert response.status_code == 400
    assert "target_url" in response.json()["errors"]
    endpoint.refresh_from_db()
    assert endpoint.is_active is True
    assert endpoint.url.startswith("https://hooks")


def test_delete_removes_the_endpoint_and_its_log(personas, api_for, endpoint):
    WebhookDeliveryFactory(organisation=personas.organisation, endpoint=endpoint)
    response = api_for(personas.organisation).delete(f"{BASE}/webhooks/{endpoint.pk}/")
    assert response.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_retried_create_with_the_same_idempotency_key_makes_one_endpoint(personas, api_for, receiver):
    client = api_for(personas.organisation)
    data = {"target_url": receiver.url, "events": ["report.ready"]}
    first = client.post(f"{BASE}/webhooks/", data, format="json", HTTP_IDEMPOTENCY_KEY="create-hook-1")
    again = client.post(f"{BASE}/webhooks/", data, format="json", HTTP_IDEMPOTENCY_KEY="create-hook-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert WebhookEndpoint.objects.count() == 1


# --- The delivery log, test events and the event list ------------------------------------------------
def test_the_delivery_log_lists_newest_first_and_filters_by_status(personas, api_for, endpoint):
    older = WebhookDeliveryFactory(organisation=personas.organisation, endpoint=endpoint, status=DeliveryStatus.FAILED)
    newer = WebhookDeliveryFactory(
        organisation=personas.organisation,
        endpoint=endpoint,
        status=DeliveryStatus.SUCCEEDED,
        response_status=200,
        attempts=1,
    )
    WebhookDeliveryFactory(organisation=personas.organisation)  # another endpoint's
    client = api_for(personas.organisation)
    rows = client.get(f"{BASE}/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert [row["id"] for row in rows] == [newer.pk, older.pk]
    assert rows[0]["response_status"] == 200
    assert rows[0]["event_id"] == str(newer.event_id)
    failed = client.get(f"{BASE}/webhooks/{endpoint.pk}/deliveries/", {"status": "failed"}).json()["results"]
    assert [row["id"] for row in failed] == [older.pk]


def test_a_test_event_is_sent_to_the_receiver_and_answers_202(
    personas, api_for, receiver, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(organisation=personas.organisation, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(personas.organisation).post(f"{BASE}/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 202
    assert response.json()["event"] == "ping"
    [request] = receiver.received
    assert request.headers["greenlight-event"] == "ping"
    assert request.json()["id"] == response.json()["event_id"]
    assert endpoint.deliveries.get().status == DeliveryStatus.SUCCEEDED


def test_the_event_list_names_each_event_with_an_example_payload(personas, api_for):
    response = api_for(personas.organisation, scopes=[Scope.WEBHOOKS_MANAGE]).get(f"{BASE}/webhook-events/")
    assert response.status_code == 200
    events = response.json()
    assert [event["name"] for event in events] == [
        "evidence.expired",
        "readiness.changed",
        "policy.published",
        "task.overdue",
        "report.ready",
    ]
    for event in events:
        assert event["example"]["event"] == event["name"]
        assert set(event["example"]) == {"id", "event", "created_at", "organisation", "data"}


# --- Queries stay constant ---------------------------------------------------------------------------
def test_the_endpoint_list_costs_the_same_for_one_endpoint_or_many(personas, api_for, django_assert_num_queries):
    client = api_for(personas.organisation)
    client.get(f"{BASE}/webhooks/")  # the key's first use of the minute also records it
    WebhookEndpointFactory(organisation=personas.organisation)
    with django_assert_num_queries(2):  # the key, the endpoints
        client.get(f"{BASE}/webhooks/")
    partner = PartnerFactory()
    WebhookEndpointFactory.create_batch(10, organisation=personas.organisation)
    WebhookEndpointFactory.create_batch(3, organisation=personas.organisation, partner=partner)
    with django_assert_num_queries(2):
        assert len(client.get(f"{BASE}/webhooks/").json()["results"]) == 11


def test_the_delivery_log_costs_the_same_for_one_delivery_or_many(
    personas, api_for, endpoint, django_assert_num_queries
):
    client = api_for(personas.organisation)
    client.get(f"{BASE}/webhooks/")  # the key's first use of the minute also records it
    WebhookDeliveryFactory(organisation=personas.organisation, endpoint=endpoint)
    with django_assert_num_queries(3):  # the key, the endpoint, the deliveries
        client.get(f"{BASE}/webhooks/{endpoint.pk}/deliveries/")
    WebhookDeliveryFactory.create_batch(20, organisation=personas.organisation, endpoint=endpoint)
    with django_assert_num_queries(3):
        assert len(client.get(f"{BASE}/webhooks/{endpoint.pk}/deliveries/").json()["results"]) == 21
