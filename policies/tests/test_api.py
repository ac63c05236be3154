"""Policies through the partner API: the list with its pinned query count, a policy with the text of the
version in force, and the page's PDF and Word exports; each with its scope, other organisations' ids, no
key and a viewer's session."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.scopes import ALL_SCOPES, Scope
from compliance.tests.factories import ControlFactory, FrameworkFactory
from policies.models import PolicyStatus
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery/policies/"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def sections(text: str) -> list[dict[str, str]]:
    return [
        {"key": "purpose", "title": "Purpose", "body": f"{text}\n\n- Lock **every** screen.", "origin": "template"},
        {"key": "scope", "title": "Scope", "body": "All staff and contractors.", "origin": "person"},
    ]


def without(scope: Scope) -> list[Scope]:
    return sorted(ALL_SCOPES - {scope})


@pytest.fixture
def control(db):
    framework = FrameworkFactory(slug="iso-27001", name="ISO/IEC 27001")
    return ControlFactory(framework=framework, group__framework=framework, ref="A.5.1", title="Policies")


@pytest.fixture
def published(personas, control):
    """A published policy whose newer version 2 is still a draft."""
    policy = PolicyFactory(
        organisation=personas.organisation,
        title="Information Security Policy",
        status=PolicyStatus.DRAFT,
        owner=personas.admin,
        review_date=date.today() + timedelta(days=300),
    )
    policy.controls.add(control)
    PolicyVersionFactory(
        organisation=personas.organisation,
        policy=policy,
        number=1,
        sections=sections("Version one in force."),
        approved_at=timezone.now(),
        published_at=timezone.now(),
    )
    PolicyVersionFactory(organisation=personas.organisation, policy=policy, number=2, sections=sections("Draft two."))
    return policy


@pytest.fixture
def empty(personas):
    return PolicyFactory(organisation=personas.organisation, title="Acceptable Use Policy")


@pytest.fixture
def other_policy(personas):
    version = PolicyVersionFactory(organisation=personas.other_organisation, sections=sections("Rival text."))
    return version.policy


# --- The list ------------------------------------------------------------------------------------------
def test_list_shows_each_policy_with_its_versions_and_controls(personas, api_for, published, empty, other_policy):
    response = api_for(personas.organisation, scopes=[Scope.POLICIES_READ]).get(BASE)

    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {published.pk, empty.pk}
    row = rows[published.pk]
    assert row["url"] == f"http://testserver{BASE}{published.pk}/"
    assert (row["title"], row["status"], row["latest_version"], row["published_version"]) == (
        "Information Security Policy",
        "draft",
        2,
        1,
    )
    assert row["published_at"] is not None
    assert row["next_review_date"] == published.review_date.isoformat()
    assert row["owner"]["email"] == "admin@acme.example"
    assert row["controls"] == [
        {"id": published.controls.get().pk, "ref": "A.5.1", "title": "Policies", "framework": "iso-27001"}
    ]
    assert row["export_url"] == f"http://testserver{BASE}{published.pk}/export/"
    assert (rows[empty.pk]["latest_version"], rows[empty.pk]["export_url"]) == (None, None)


def test_list_filters_by_status(personas, api_for, published, empty):
    PolicyFactory(organisation=personas.organisation, status=PolicyStatus.RETIRED)
    client = api_for(personas.organisation)
    retired = client.get(BASE, {"status": "retired"}).json()["results"]
    assert [row["status"] for row in retired] == ["retired"]
    assert client.get(BASE, {"status": "lost"}).status_code == 400


def test_list_orders_by_title_and_pages_through_every_policy(personas, api_for):
    made = [PolicyFactory(organisation=personas.organisation, title=title) for title in ("Backup", "Access", "Backup")]
    client = api_for(personas.organisation)
    titles = [row["title"] for row in client.get(BASE, {"ordering": "title"}).json()["results"]]
    assert titles == ["Access", "Backup", "Backup"]
    seen: list[int] = []
    url: str | None = f"{BASE}?ordering=-title&page_size=1"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(policy.pk for policy in made)


@pytest.mark.parametrize("count", [1, 6])
def test_list_query_count_does_not_grow_with_policies(personas, api_for, control, django_assert_num_queries, count):
    for _ in range(count):
        version = PolicyVersionFactory(organisation=personas.organisation, policy__owner=personas.member)
        version.policy.controls.add(control)
    client = api_for(personas.organisation)
    # The key (with its organisation) and its touch, one page of policies, and one prefetch of their controls.
    with django_assert_num_queries(4):
        response = client.get(BASE)
    assert len(response.json()["results"]) == count


def test_list_needs_the_policies_read_scope_and_a_key(personas, api_for, published):
    response = api_for(personas.organisation, scopes=without(Scope.POLICIES_READ)).get(BASE)
    assert response.status_code == 403
    assert "policies:read" in response.json()["detail"]
    assert APIClient().get(BASE).status_code == 401
    assert api_for(personas.organisation).get("/api/v1/organisations/rival-widgets/policies/").status_code == 404


def test_a_viewer_session_reads_policies_but_cannot_write(personas, client_for, published):
    browser = client_for(personas.viewer)
    assert browser.get(BASE).status_code == 200
    assert browser.get(f"{BASE}{published.pk}/").status_code == 200
    assert browser.post(BASE, {"title": "New"}).status_code == 405


# --- One policy ----------------------------------------------------------------------------------------
def test_detail_shows_the_version_in_force(personas, api_for, published):
    response = api_for(personas.organisation, scopes=[Scope.POLICIES_READ]).get(f"{BASE}{published.pk}/")

    assert response.status_code == 200
    version = response.json()["version"]
    assert (version["number"], version["is_published"]) == (1, True)
    first = version["sections"][0]
    assert first["body"] == "Version one in force.\n\n- Lock **every** screen."
    assert "<strong>every</strong>" in first["html"]
    assert (first["key"], first["title"], first["origin"]) == ("purpose", "Purpose", "template")
    assert version["markdown"].startswith("# Information Security Policy\n\n## Purpose\n\nVersion one in force.")


def test_detail_shows_the_newest_version_until_one_is_published(personas, api_for):
    policy = PolicyVersionFactory(
        organisation=personas.organisation, number=1, sections=sections("First draft.")
    ).policy
    response = api_for(personas.organisation).get(f"{BASE}{policy.pk}/")
    assert response.json()["version"]["number"] == 1
    assert response.json()["version"]["is_published"] is False


def test_detail_shows_a_chosen_version(personas, api_for, published):
    client = api_for(personas.organisation)
    draft = client.get(f"{BASE}{published.pk}/", {"version": 2}).json()["version"]
    assert draft["sections"][0]["body"].startswith("Draft two.")
    missing = client.get(f"{BASE}{published.pk}/", {"version": 7})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "This policy has no version 7."
    assert client.get(f"{BASE}{published.pk}/", {"version": "two"}).status_code == 400


def test_a_policy_without_text_has_no_version(personas, api_for, empty):
    response = api_for(personas.organisation).get(f"{BASE}{empty.pk}/")
    assert response.status_code == 200
    assert response.json()["version"] is None


def test_another_organisations_policy_is_404(personas, api_for, other_policy):
    client = api_for(personas.organisation)
    assert client.get(f"{BASE}{other_policy.pk}/").status_code == 404
    assert client.get(f"{BASE}{other_policy.pk}/export/").status_code == 404


def test_detail_needs_the_policies_read_scope_and_a_key(personas, api_for, published):
    url = f"{BASE}{published.pk}/"
    assert api_for(personas.organisation, scopes=without(Scope.POLICIES_READ)).get(url).status_code == 403
    assert APIClient().get(url).status_code == 401


# --- Exports -------------------------------------------------------------------------------------------
def test_export_is_the_pages_pdf_of_the_version_in_force(personas, api_for, published):
    response = api_for(personas.organisation, scopes=[Scope.POLICIES_READ]).get(
        f"{BASE}{published.pk}/export/", {"format": "pdf"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="information-security-policy-v1.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"%PDF-")


def test_export_as_word(personas, api_for, published):
    response = api_for(personas.organisation).get(
        f"{BASE}{published.pk}/export/", {"format": "docx", "version": 2}, HTTP_ACCEPT=DOCX
    )
    assert response.status_code == 200
    assert response["Content-Type"] == DOCX
    assert response["Content-Disposition"] == 'attachment; filename="information-security-policy-v2.docx"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "Draft two." in archive.read("word/document.xml").decode()


def test_export_defaults_to_pdf_and_refuses_other_formats(personas, api_for, published):
    client = api_for(personas.organisation)
    assert client.get(f"{BASE}{published.pk}/export/")["Content-Type"] == "application/pdf"
    response = client.get(f"{BASE}{published.pk}/export/", {"format": "odt"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "format" in response.json()["errors"]


def test_export_of_a_policy_without_text_is_a_404_saying_why(personas, api_for, empty):
    response = api_for(personas.organisation).get(f"{BASE}{empty.pk}/export/", {"format": "pdf"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "no text yet" in response.json()["detail"]


def test_export_needs_the_policies_read_scope_and_a_key(personas, api_for, published):
    url = f"{BASE}{published.pk}/export/"
    assert api_for(personas.organisation, scopes=without(Scope.POLICIES_READ)).get(url).status_code == 403
    assert APIClient().get(url).status_code == 401


def test_a_viewer_session_can_export(personas, client_for, published):
    response = client_for(personas.viewer).get(f"{BASE}{published.pk}/export/?format=docx")
    assert response.status_code == 200
    assert response["Content-Type"] == DOCX
