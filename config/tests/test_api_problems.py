"""API errors are RFC 9457 problem documents (`application/problem+json`), whatever raised them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import include, path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from config.api.views import OrganisationAPIView

pytestmark = pytest.mark.django_db

PROBE_URL = "/api/v1/organisations/acme-bakery/test-problems/"


class ProbeSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=20)
    due_date = serializers.DateField()


class Probe(OrganisationAPIView):
    """Fails the way views and services fail, on request."""

    scopes = {"GET": Scope.TASKS_READ, "POST": Scope.TASKS_WRITE}

    def get(self, request: Request, organisation_slug: str) -> Response:
        match request.query_params.get("fail"):
            case "service":
                raise DjangoValidationError({"due_date": "Pick a date after today.", "__all__": "Not now."})
            case "service-plain":
                raise DjangoValidationError("This plan is archived.")
            case "forbidden":
                raise PermissionDenied("Only an owner may do that.")
        return Response({"ok": True})

    def post(self, request: Request, organisation_slug: str) -> Response:
        serializer = ProbeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.data, status=201)


urlpatterns = [
    path("api/v1/organisations/<slug:organisation_slug>/test-problems/", Probe.as_view(), name="api_test_problems"),
    path("", include("config.urls")),
]

with_probe = pytest.mark.urls(__name__)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    return problem


@with_probe
def test_invalid_fields_answer_400_with_each_fields_messages(personas, api_for):
    response = api_for(personas.organisation).post(PROBE_URL, {"title": "x" * 21}, format="json")
    problem = _problem(response, 400)
    assert problem["title"] == "Invalid request"
    assert problem["errors"] == {
        "title": ["Ensure this field has no more than 20 characters."],
        "due_date": ["This field is required."],
    }


@with_probe
def test_a_services_validation_error_answers_400_with_field_errors(personas, api_for):
    problem = _problem(api_for(personas.organisation).get(PROBE_URL, {"fail": "service"}), 400)
    assert problem["errors"] == {"due_date": ["Pick a date after today."], "non_field_errors": ["Not now."]}


@with_probe
def test_a_services_plain_validation_error_is_a_non_field_error(personas, api_for):
    problem = _problem(api_for(personas.organisation).get(PROBE_URL, {"fail": "service-plain"}), 400)
    assert problem["errors"] == {"non_field_errors": ["This plan is archived."]}


@with_probe
def test_a_services_permission_denied_answers_403(personas, api_for):
    problem = _problem(api_for(personas.organisation).get(PROBE_URL, {"fail": "forbidden"}), 403)
    assert problem["detail"] == "Only an owner may do that."


@with_probe
def test_a_missing_scope_answers_403_naming_it(personas, api_for):
    client = api_for(personas.organisation, scopes=[Scope.TASKS_READ])
    problem = _problem(client.post(PROBE_URL, {"title": "Patch", "due_date": "2026-11-21"}, format="json"), 403)
    assert problem["title"] == "Not allowed"
    assert problem["detail"] == "This operation needs the tasks:write scope."


@with_probe
def test_malformed_json_answers_400(personas, api_for):
    client = api_for(personas.organisation)
    response = client.post(PROBE_URL, "{not json", content_type="application/json")
    assert "JSON parse error" in _problem(response, 400)["detail"]


@with_probe
def test_an_unsupported_media_type_answers_415(personas, api_for):
    response = api_for(personas.organisation).post(PROBE_URL, "<task/>", content_type="application/xml")
    _problem(response, 415)


def test_no_key_answers_401(personas):
    from rest_framework.test import APIClient

    problem = _problem(APIClient().get("/api/v1/organisations/acme-bakery/"), 401)
    assert problem["title"] == "Not authenticated"


def test_an_unreachable_organisation_answers_404(personas, api_for):
    problem = _problem(api_for(personas.organisation).get("/api/v1/organisations/rival-widgets/"), 404)
    assert problem["title"] == "Not found"


def test_a_method_the_endpoint_lacks_answers_405(personas, api_for):
    problem = _problem(api_for(personas.organisation).delete("/api/v1/organisations/acme-bakery/"), 405)
    assert problem["title"] == "Method not allowed"
    assert "DELETE" in problem["detail"]


@pytest.mark.parametrize("url", ["/api/v1/nope/", "/api/v1/organisations/acme-bakery/nope/", "/api/nope", "/api/"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_url_answers_problem_json_404(personas, api_for, url, method):
    problem = _problem(getattr(api_for(personas.organisation), method)(url), 404)
    assert "no API endpoint" in problem["detail"]


def test_an_unknown_api_url_answers_404_without_a_key_too(db, client):
    _problem(client.get("/api/v1/nope/"), 404)


def test_a_missing_final_slash_is_pointed_out(personas, api_for):
    problem = _problem(api_for(personas.organisation).get("/api/v1/organisations/acme-bakery"), 404)
    assert "Did you mean /api/v1/organisations/acme-bakery/" in problem["detail"]


def test_pages_outside_the_api_keep_the_html_404(personas, client_for):
    response = client_for(personas.member).get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
