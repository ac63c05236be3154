"""The audit log in the API: the organisation's events newest first, filtered by action, object type and
time, cursor-paginated in constant queries; only for keys with audit:read and administrators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import PartnerGrant
from accounts.scopes import Scope
from accounts.tests.factories import AuditEventFactory, PartnerFactory, PartnerGrantFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/organisations/acme-bakery/audit-events/"
NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def event(personas, hours: float, action: str = "organisation.renamed", **fields):
    return AuditEventFactory(
        organisation=personas.organisation, action=action, created_at=NOON + timedelta(hours=hours), **fields
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_events_are_listed_newest_first_with_who_did_what(personas, api_for):
    older = event(
        personas, -2, "membership.role_changed", actor_label="owner@acme.example", summary="Made Sam an admin"
    )
    newer = event(personas, -1, "report.requested", object_type="assessments.reportrun", object_id="41")
    AuditEventFactory(organisation=personas.other_organisation)
    response = api_for(personas.organisation, scopes=[Scope.AUDIT_READ]).get(EVENTS)
    assert ids(response) == [newer.pk, older.pk]
    assert response.json()["results"][1] == {
        "id": older.pk,
        "created_at": "2026-11-21T10:00:00Z",
        "actor_label": "owner@acme.example",
        "action": "membership.role_changed",
        "object_type": "",
        "object_id": "",
        "summary": "Made Sam an admin",
    }
    assert response.json()["results"][0]["object_id"] == "41"


def test_action_filters_by_one_action_or_a_whole_area(personas, api_for):
    requested = event(personas, 0, "report.requested")
    event(personas, 1, "reports.other")  # another area sharing the prefix
    event(personas, 2, "membership.removed")
    client = api_for(personas.organisation)
    assert ids(client.get(EVENTS, {"action": "report.requested"})) == [requested.pk]
    assert ids(client.get(EVENTS, {"action": "report"})) == [requested.pk]
    assert ids(client.get(EVENTS, {"action": "report."})) == [requested.pk]


def test_object_type_and_a_time_window_filter_events(personas, api_for):
    before = event(personas, -3, object_type="evidence.evidence")
    inside = event(personas, 0, object_type="evidence.evidence")
    policy = event(personas, 0.5, object_type="policies.policy")
    at_until = event(personas, 1, object_type="evidence.evidence")
    client = api_for(personas.organisation)
    assert ids(client.get(EVENTS, {"object_type": "evidence.evidence"})) == [at_until.pk, inside.pk, before.pk]
    window = {"object_type": "evidence.evidence", "since": "2026-11-21T12:00:00Z", "until": "2026-11-21T13:00:00Z"}
    assert ids(client.get(EVENTS, window)) == [inside.pk]  # since is inclusive, until is not
    assert ids(client.get(EVENTS, {"since": "2026-11-21T13:30:00+01:00"})) == [at_until.pk, policy.pk]


def test_a_malformed_time_is_a_400_naming_the_filter(personas, api_for):
    response = api_for(personas.organisation).get(EVENTS, {"since": "last tuesday"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "since" in response.json()["errors"]


def test_events_page_with_a_cursor(personas, api_for):
    events = [event(personas, hour) for hour in range(5)]
    client = api_for(personas.organisation)
    first = client.get(EVENTS, {"page_size": 3}).json()
    second = client.get(first["next"]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == [e.pk for e in reversed(events)]
    assert second["next"] is None


def test_the_key_that_acted_is_named_in_the_log(personas, api_for):
    client = api_for(personas.organisation)
    client.post("/api/v1/organisations/acme-bakery/reports/", {"kind": "readiness"}, format="json")
    row = client.get(EVENTS, {"action": "report.requested"}).json()["results"][0]
    assert client.key.name in row["actor_label"]
    assert client.key.prefix in row["actor_label"]


@pytest.mark.parametrize("count", [1, 15])
def test_the_list_queries_do_not_grow_with_events(personas, api_for, django_assert_num_queries, count):
    for hour in range(count):
        event(personas, hour)
    client = api_for(personas.organisation, scopes=[Scope.AUDIT_READ])
    client.get(EVENTS)  # the key's first use is recorded once
    # the key; the events
    with django_assert_num_queries(2):
        assert len(ids(client.get(EVENTS))) == count


# --- Who may read ---------------------------------------------------------------------------------
def test_reading_needs_the_audit_read_scope(personas, api_for):
    response = api_for(personas.organisation, scopes=[s for s in Scope if s != Scope.AUDIT_READ]).get(EVENTS)
    assert response.status_code == 403
    assert Scope.AUDIT_READ in response.json()["detail"]


def test_another_organisations_log_is_not_found(personas, api_for):
    AuditEventFactory(organisation=personas.other_organisation)
    response = api_for(personas.organisation).get("/api/v1/organisations/rival-widgets/audit-events/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_partner_reads_the_log_only_when_granted(personas, api_for):
    event(personas, 0)
    partner = PartnerFactory()
    grant = PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=[Scope.READINESS_READ])
    client = api_for(partner=partner)
    assert client.get(EVENTS).status_code == 403
    PartnerGrant.objects.filter(pk=grant.pk).update(scopes=[Scope.AUDIT_READ])
    assert client.get(EVENTS).status_code == 200


def test_reading_without_a_key_is_refused(personas, client_for):
    assert client_for(None).get(EVENTS).status_code == 401


@pytest.mark.parametrize(("persona", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("viewer", 403)])
def test_only_administrators_read_the_log_from_a_session(personas, client_for, persona, status):
    assert client_for(getattr(personas, persona)).get(EVENTS).status_code == status


def test_the_log_cannot_be_written_through_the_api(personas, api_for, client_for):
    assert api_for(personas.organisation).post(EVENTS, {}, format="json").status_code == 405
    viewer = client_for(personas.viewer)
    assert viewer.post(EVENTS, {}, content_type="application/json").status_code == 405


def test_the_schema_documents_the_filters(client_for):
    schema = client_for(None).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/organisations/{organisation_slug}/audit-events/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"action", "object_type", "since", "until", "cursor"} <= names
    assert operation["x-required-scope"] == Scope.AUDIT_READ


@pytest.mark.parametrize("moment", ["0904-04-27T20:04:27-21:54", "2026-11-21T09:00:00+23:59"])
def test_times_with_offsets_the_database_cannot_hold_are_read_in_utc(personas, api_for, moment):
    # PostgreSQL refuses offsets beyond ±15:59, which Python accepts; the filter converts to UTC first.
    response = api_for(personas.organisation).get(
        "/api/v1/organisations/acme-bakery/audit-events/", {"until": moment, "since": moment}
    )
    assert response.status_code == 200
