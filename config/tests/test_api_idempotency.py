"""`Idempotency-Key` makes a POST safe to retry: the retry replays the first response, does no second write.

Most tests use a small view mounted only here (`pytest.mark.urls`), so they can count what it wrote and
make it fail on demand; one sends a real endpoint's documented example, whichever endpoint documents one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import include, path
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import audit_record
from accounts.models import AuditEvent, IdempotencyRecord
from accounts.scopes import Scope
from accounts.tasks import prune_idempotency_records
from accounts.tenancy import tenant_models
from accounts.tests.factories import IdempotencyRecordFactory
from config.api.idempotency import idempotency_records_prune, idempotent
from config.api.views import OrganisationAPIView
from config.schedules import PERIODIC_TASKS
from tests.api_routes import example_for, organisation_routes, refuse_network, request_examples
from tests.isolation import build_tenant_data

pytestmark = pytest.mark.django_db

NOTES_URL = "/api/v1/organisations/acme-bakery/test-notes/"


class NoteList(OrganisationAPIView):
    """Writes an audit event per note: something to count."""

    scopes = {"POST": Scope.TASKS_WRITE}

    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        text = str(data.get("text", "")).strip()
        if not text:
            raise ValidationError({"text": "Write something."})
        event = audit_record(organisation=self.organisation, actor=self.actor, action="note.added", summary=text)
        body = {"id": event.pk, "text": text, "created_at": event.created_at}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}{event.pk}/"})


urlpatterns = [
    path("api/v1/organisations/<slug:organisation_slug>/test-notes/", NoteList.as_view(), name="api_test_notes"),
    path("", include("config.urls")),
]

with_notes = pytest.mark.urls(__name__)


def _post(client: Any, body: dict[str, Any], key: str | None = None, url: str = NOTES_URL) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, body, format="json", headers=headers)


def _notes() -> int:
    return AuditEvent.objects.filter(action="note.added").count()


@with_notes
def test_a_retried_post_replays_the_first_response_and_writes_once(personas, api_for):
    client = api_for(personas.organisation)
    first = _post(client, {"text": "Backups checked"}, key="retry-7f3a")
    second = _post(client, {"text": "Backups checked"}, key="retry-7f3a")

    assert first.status_code == second.status_code == 201
    assert _notes() == 1
    assert second.json() == first.json()
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first


@with_notes
def test_without_a_key_every_post_writes(personas, api_for):
    client = api_for(personas.organisation)
    _post(client, {"text": "Backups checked"})
    _post(client, {"text": "Backups checked"})
    assert _notes() == 2


@with_notes
def test_a_key_reused_for_a_different_request_is_refused(personas, api_for):
    client = api_for(personas.organisation)
    _post(client, {"text": "Backups checked"}, key="retry-7f3a")
    response = _post(client, {"text": "Firewall reviewed"}, key="retry-7f3a")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "different request" in response.json()["detail"]
    assert _notes() == 1


@with_notes
def test_different_callers_may_use_the_same_key(personas, api_for, client_for):
    first, second = api_for(personas.organisation), api_for(personas.organisation)
    assert _post(first, {"text": "Backups checked"}, key="retry-7f3a").status_code == 201
    assert _post(second, {"text": "Backups checked"}, key="retry-7f3a").status_code == 201
    assert _notes() == 2


@with_notes
def test_a_failed_request_can_be_retried_with_the_same_key(personas, api_for):
    client = api_for(personas.organisation)
    refused = _post(client, {"text": ""}, key="retry-7f3a")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"text": ["Write something."]}
    assert not IdempotencyRecord.objects.exists()

    retried = _post(client, {"text": "Backups checked"}, key="retry-7f3a")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert _notes() == 1


@with_notes
@pytest.mark.parametrize("body", [["Backups checked"], "Backups checked", 7, None])
def test_a_body_that_is_not_a_json_object_is_fingerprinted_too(personas, api_for, body):
    client = api_for(personas.organisation)
    response = client.post(NOTES_URL, body, format="json", headers={"Idempotency-Key": "retry-7f3a"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"text": ["Write something."]}


@with_notes
def test_an_overlong_key_is_refused(personas, api_for):
    response = _post(api_for(personas.organisation), {"text": "Backups checked"}, key="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert _notes() == 0


@with_notes
def test_a_key_is_kept_per_organisation(personas, api_for):
    """A partner's key reaching two organisations may send the same Idempotency-Key to each."""
    from accounts.tests.factories import PartnerFactory, PartnerGrantFactory

    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    PartnerGrantFactory(organisation=personas.other_organisation, partner=partner)
    client = api_for(partner=partner)
    other_url = NOTES_URL.replace("acme-bakery", personas.other_organisation.slug)
    assert _post(client, {"text": "Backups checked"}, key="retry-7f3a").status_code == 201
    assert _post(client, {"text": "Backups checked"}, key="retry-7f3a", url=other_url).status_code == 201
    assert _notes() == 2


def test_day_old_records_are_pruned_daily(personas):
    fresh = IdempotencyRecordFactory(organisation=personas.organisation)
    IdempotencyRecordFactory(organisation=personas.organisation, created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_records_prune() == 1
    assert list(IdempotencyRecord.objects.all()) == [fresh]

    IdempotencyRecordFactory(organisation=personas.organisation, created_at=timezone.now() - timedelta(days=3))
    assert prune_idempotency_records.delay().get() == 1
    daily = {task for task, when in PERIODIC_TASKS.values() if when.get("hour", "*").isdigit()}
    assert "accounts.prune_idempotency_records" in daily


@pytest.mark.usefixtures("library")
def test_real_endpoints_documented_posts_are_idempotent(personas, api_for, monkeypatch):
    """Every organisation POST whose documented JSON example is accepted here: its retry is a replay
    and writes nothing more."""
    refuse_network(monkeypatch)
    build_tenant_data(personas.organisation)
    examples = request_examples()
    client = api_for(personas.organisation)
    accepted = []
    for route in organisation_routes(personas.organisation):
        url = route.url(personas.organisation)
        body = example_for(examples, "POST", url)
        if "POST" not in route.methods or body is None:
            continue
        first = _post(client, body, key=f"retry-{route.name}", url=url)
        if not 200 <= first.status_code < 300:
            continue  # the example names something this organisation lacks
        written = _rows(personas)
        second = _post(client, body, key=f"retry-{route.name}", url=url)
        assert second.status_code == first.status_code, url
        assert second.json() == first.json(), url
        assert second["Idempotent-Replayed"] == "true", url
        assert second.get("Location") == first.get("Location"), url
        assert _rows(personas) == written, f"the retried POST {url} wrote again"
        accepted.append(route.name)
    if not accepted:
        pytest.skip("No organisation API POST documents a JSON example this test's data accepts.")


def _rows(personas: Any) -> int:
    return sum(
        model.objects.filter(organisation=personas.organisation).count()
        for model in tenant_models()
        if model not in (IdempotencyRecord, AuditEvent)
    )


@with_notes
def test_the_stored_response_is_sealed_so_a_secret_shown_once_is_not_kept_readable(personas, api_for):
    client = api_for(personas.organisation)
    _post(client, {"text": "whsec_shown_once_only"}, key="sealed-1")

    stored = IdempotencyRecord.objects.get(key="sealed-1").response_body
    assert "whsec_shown_once_only" not in str(stored)
    assert _post(client, {"text": "whsec_shown_once_only"}, key="sealed-1").json()["text"] == "whsec_shown_once_only"
