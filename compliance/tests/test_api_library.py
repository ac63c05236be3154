"""The framework library in the API: open to any valid key or signed-in person whatever their scopes,
filtered as documented, cursor-paginated in id order, each control reachable by id, and every list in
constant queries."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.tests.factories import ApiKeyFactory
from compliance.models import Control, ControlMapping, Framework
from compliance.tests.factories import ControlFactory, ControlGroupFactory, ControlMappingFactory, QuestionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]

LIBRARY = [
    "/api/v1/frameworks/",
    "/api/v1/frameworks/uk-gdpr/",
    "/api/v1/frameworks/uk-gdpr/groups/",
    "/api/v1/controls/",
    "/api/v1/mappings/",
]


@pytest.fixture
def client(personas, api_for):
    """A key with no scopes at all: the library needs none."""
    return api_for(personas.organisation, scopes=[])


def gdpr(ref: str) -> Control:
    return Control.objects.get(framework__slug="uk-gdpr", ref=ref)


# --- Who may read ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", LIBRARY)
def test_any_valid_key_reads_the_library_whatever_its_scopes(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", LIBRARY)
def test_the_library_refuses_calls_without_a_valid_key(personas, client_for, api_for, path):
    assert client_for(None).get(path).status_code == 401
    revoked = api_for(personas.organisation)
    ApiKeyFactory._meta.model.objects.filter(pk=revoked.key.pk).update(revoked_at=timezone.now())
    response = revoked.get(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_a_viewers_session_reads_the_library(personas, client_for):
    assert client_for(personas.viewer).get("/api/v1/controls/", {"framework": "uk-gdpr"}).status_code == 200


def test_the_library_is_read_only(client):
    assert client.post("/api/v1/controls/", {}, format="json").status_code == 405


# --- Frameworks and groups ------------------------------------------------------------------------
def test_frameworks_carry_their_counts_and_links(client):
    frameworks = client.get("/api/v1/frameworks/").json()
    slugs = [framework["slug"] for framework in frameworks]
    assert "uk-gdpr" in slugs
    assert "cyber-essentials" in slugs
    gdpr_row = next(framework for framework in frameworks if framework["slug"] == "uk-gdpr")
    assert gdpr_row["control_count"] == Control.objects.live().filter(framework__slug="uk-gdpr").count()
    assert gdpr_row["url"] == "http://testserver/api/v1/frameworks/uk-gdpr/"
    assert gdpr_row["web_url"] == "http://testserver/frameworks/uk-gdpr/"
    assert client.get(gdpr_row["url"]).json() == gdpr_row


def test_groups_form_a_tree_by_parent_ref(client):
    groups = client.get("/api/v1/frameworks/uk-gdpr/groups/").json()
    by_ref = {group["ref"]: group for group in groups}
    assert by_ref["IV.2"] == {"ref": "IV.2", "kind": "section", "title": "Security of personal data", "parent": "IV"}
    assert by_ref["IV"]["parent"] is None


@pytest.mark.parametrize("path", ["/api/v1/frameworks/nope/", "/api/v1/frameworks/nope/groups/"])
def test_an_unknown_framework_is_a_404_problem(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


# --- Controls -------------------------------------------------------------------------------------
def test_a_control_is_reachable_by_id_with_its_questions(client):
    control = gdpr("33")
    listed = client.get("/api/v1/controls/", {"framework": "uk-gdpr", "page_size": 200}).json()["results"]
    row = next(row for row in listed if row["id"] == control.pk)
    assert row["url"] == f"http://testserver/api/v1/controls/{control.pk}/"
    assert row["web_url"] == f"http://testserver{control.get_absolute_url()}"
    detail = client.get(row["url"]).json()
    assert detail == row
    assert detail["framework"] == "uk-gdpr"
    assert detail["group"] == "IV.2"
    assert detail["retired_at"] is None
    assert [question["key"] for question in detail["questions"]] == ["q1", "q2", "q3", "q4"]


def test_a_retired_control_is_still_found_by_id_but_not_listed(client):
    control = gdpr("33")
    Control.objects.filter(pk=control.pk).update(retired_at=timezone.now())
    detail = client.get(f"/api/v1/controls/{control.pk}/").json()
    assert detail["retired_at"] is not None
    listed = client.get("/api/v1/controls/", {"framework": "uk-gdpr", "page_size": 200}).json()["results"]
    assert control.pk not in {row["id"] for row in listed}


def test_an_unknown_control_is_a_404_problem(client):
    newest = Control.objects.order_by("-pk")[0]
    response = client.get(f"/api/v1/controls/{newest.pk + 1}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_controls_filter_by_framework_group_and_assessable(client):
    in_group = client.get("/api/v1/controls/", {"framework": "uk-gdpr", "group": "IV.2"}).json()["results"]
    expected = Control.objects.live().filter(framework__slug="uk-gdpr", group__ref="IV.2").order_by("pk")
    assert [row["id"] for row in in_group] == [control.pk for control in expected]
    not_assessed = client.get("/api/v1/controls/", {"assessable": "false", "page_size": 200}).json()["results"]
    assert not_assessed
    assert all(row["assessable"] is False for row in not_assessed)


def test_search_finds_synonyms_within_a_framework(client):
    found = client.get("/api/v1/controls/", {"q": "2FA", "framework": "cyber-essentials"}).json()["results"]
    assert found
    assert {row["framework"] for row in found} == {"cyber-essentials"}
    assert "UA.4" in {row["ref"] for row in found}


def test_controls_page_with_a_cursor_in_id_order(client):
    first = client.get("/api/v1/controls/", {"framework": "uk-gdpr", "page_size": 25}).json()
    second = client.get(first["next"]).json()
    seen = [row["id"] for row in first["results"] + second["results"]]
    expected = list(
        Control.objects.live().filter(framework__slug="uk-gdpr").order_by("pk").values_list("pk", flat=True)
    )
    assert seen == expected[:50]
    assert "count" not in first  # a cursor does not count


# --- Mappings -------------------------------------------------------------------------------------
def test_mappings_filter_by_either_end_and_relationship(client):
    framework = Framework.objects.get(slug="cyber-essentials")
    rows = client.get("/api/v1/mappings/", {"framework": "cyber-essentials", "page_size": 200}).json()["results"]
    assert rows
    for row in rows:
        assert "cyber-essentials:" in row["source"] + row["target"]
        mapping = ControlMapping.objects.select_related("source", "target").get(pk=row["id"])
        assert (row["source_id"], row["target_id"]) == (mapping.source_id, mapping.target_id)
        assert framework.pk in (mapping.source.framework_id, mapping.target.framework_id)
    equal = client.get("/api/v1/mappings/", {"relationship": "equal", "page_size": 200}).json()["results"]
    assert all(row["relationship"] == "equal" for row in equal)
    malformed = client.get("/api/v1/mappings/", {"relationship": "roughly"})
    assert malformed.status_code == 400
    assert "relationship" in malformed.json()["errors"]


# --- Queries --------------------------------------------------------------------------------------
def grow(extra: int) -> None:
    """Controls with questions, and mappings between them, so counts would show a query per row."""
    framework = Framework.objects.get(slug="uk-gdpr")
    target = gdpr("33")
    for _ in range(extra):
        control = ControlFactory(group=ControlGroupFactory(framework=framework))
        QuestionFactory(control=control)
        ControlMappingFactory(source=control, target=target)


@pytest.mark.parametrize("extra", [1, 20])
def test_library_lists_run_in_constant_queries(client, django_assert_num_queries, extra):
    grow(extra)
    newest = Control.objects.order_by("-pk")[0]
    client.get("/api/v1/frameworks/")  # the key's first use is recorded once
    for path, params, queries in [
        ("/api/v1/frameworks/", {}, 2),  # the key; the frameworks with counts
        ("/api/v1/frameworks/uk-gdpr/groups/", {}, 3),  # the key; the framework; its groups
        ("/api/v1/controls/", {"framework": "uk-gdpr"}, 3),  # the key; the controls; their questions
        (f"/api/v1/controls/{newest.pk}/", {}, 3),
        ("/api/v1/mappings/", {"framework": "uk-gdpr"}, 2),  # the key; the mappings with both ends
    ]:
        with django_assert_num_queries(queries):
            assert client.get(path, params).status_code == 200


# --- The schema -----------------------------------------------------------------------------------
def test_the_schema_documents_the_library_filters(client_for):
    schema = client_for(None).get("/api/schema/", {"format": "json"}).json()
    controls = schema["paths"]["/api/v1/controls/"]["get"]
    assert {"framework", "group", "assessable", "q", "cursor"} <= {p["name"] for p in controls["parameters"]}
    mappings = schema["paths"]["/api/v1/mappings/"]["get"]
    assert {"framework", "relationship", "cursor"} <= {p["name"] for p in mappings["parameters"]}
    assert "/api/v1/controls/{control_id}/" in schema["paths"]
    assert "x-required-scope" not in controls
