from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from compliance.library_format import parse_framework, parse_mappings
from compliance.services import framework_load, mappings_load
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"


@pytest.fixture
def library():
    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    framework_load(document=parse_framework(data, source="tiny.yaml"))
    data["framework"]["slug"] = "second-framework"
    data["framework"]["name"] = "Second Framework"
    framework_load(document=parse_framework(data, source="second.yaml"))
    mappings_load(
        mappings=parse_mappings(
            {
                "format": "greenlight-library/1",
                "mappings": [
                    {
                        "source": "tiny-framework:A.1.1",
                        "target": "second-framework:A.1.1",
                        "relationship": "subset",
                        "rationale": "MFA on cloud services is part of the wider rule.",
                    },
                ],
            },
            source="m.yaml",
        ),
        source="m.yaml",
    )


def signed_in(client_for, user):
    """A client past its first request, which stores the chosen organisation in the session."""
    client = client_for(user)
    client.get(reverse("dashboard"))
    return client


def grow(framework_slug: str, extra: int) -> None:
    """Add controls and groups to a framework, to show query counts do not depend on size."""
    from compliance.models import Framework

    framework = Framework.objects.get(slug=framework_slug)
    for _ in range(extra):
        ControlFactory(group=ControlGroupFactory(framework=framework))


@pytest.mark.parametrize("extra", [0, 15])
def test_catalogue_lists_frameworks_in_constant_queries(
    library, personas, client_for, django_assert_num_queries, extra
):
    for _ in range(extra // 5):
        FrameworkFactory()
    client = signed_in(client_for, personas.member)
    with django_assert_num_queries(4):
        response = client.get(reverse("framework_list"))
    assert response.status_code == 200
    assert b"Tiny Framework" in response.content


@pytest.mark.parametrize("extra", [0, 20])
def test_framework_page_shows_grouped_controls_in_constant_queries(
    library, personas, client_for, django_assert_num_queries, extra
):
    grow("tiny-framework", extra)
    client = signed_in(client_for, personas.viewer)
    # One query more than the tree needs: whether the organisation has adopted the framework (it has not,
    # so no readiness is computed; see assessments/tests/test_assessment.py for the adopted page).
    with django_assert_num_queries(7):
        response = client.get(reverse("framework_detail", args=["tiny-framework"]))
    content = response.content.decode()
    for expected in ("Accounts", "A.1.1", "Auto-fail"):
        assert expected in content


@pytest.mark.parametrize("extra", [0, 20])
def test_control_page_shows_guidance_questions_evidence_and_mappings(
    library, personas, client_for, django_assert_num_queries, extra
):
    grow("tiny-framework", extra)
    client = signed_in(client_for, personas.member)
    # the control page's 6, then the organisation's evidence on it: items, their controls, latest checks
    with django_assert_num_queries(9):
        response = client.get(reverse("control_detail", args=["tiny-framework", "A.1.1"]))
    content = response.content.decode()
    assert "Use an authenticator app." in content
    assert "Is multi-factor authentication on for every user?" in content
    assert "Screenshot of the MFA settings" in content
    assert "Second Framework" in content
    assert "Meeting it also meets this control" in content


def test_control_page_reads_mapping_from_the_other_side(library, personas, client_for):
    response = client_for(personas.member).get(reverse("control_detail", args=["second-framework", "A.1.1"]))
    assert "Tiny Framework" in response.content.decode()
    assert "Meets part of this control" in response.content.decode()


@pytest.mark.parametrize("extra", [0, 20])
def test_search_finds_2fa_in_constant_queries(library, personas, client_for, django_assert_num_queries, extra):
    grow("tiny-framework", extra)
    client = signed_in(client_for, personas.member)
    with django_assert_num_queries(5):
        response = client.get(reverse("control_search"), {"q": "2FA"})
    assert "Multi-factor authentication on cloud services" in response.content.decode()


def test_search_fragment_for_htmx(library, personas, client_for):
    response = client_for(personas.member).get(
        reverse("control_search"), {"q": "backups"}, headers={"HX-Request": "true"}
    )
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="results"')
    assert "Backups" in content


def test_unknown_framework_and_control_are_404(library, personas, client_for):
    client = client_for(personas.member)
    assert client.get(reverse("framework_detail", args=["nope"])).status_code == 404
    assert client.get(reverse("control_detail", args=["tiny-framework", "Z.9"])).status_code == 404


def test_library_pages_need_a_login(library, client_for):
    response = client_for(None).get(reverse("framework_list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_api_lists_frameworks_controls_and_mappings(library, personas, client_for):
    client = client_for(personas.member)
    frameworks = client.get("/api/v1/frameworks/").json()
    assert {f["slug"] for f in frameworks} == {"tiny-framework", "second-framework"}
    controls = client.get("/api/v1/controls/", {"framework": "tiny-framework"}).json()
    assert [c["ref"] for c in controls["results"]] == ["A.1.1", "A.1.2", "A.2"]
    assert controls["results"][0]["questions"][0]["key"] == "q1"
    searched = client.get("/api/v1/controls/", {"q": "2fa"}).json()
    assert searched["results"][0]["ref"] == "A.1.1"
    mappings = client.get("/api/v1/mappings/", {"framework": "second-framework"}).json()
    assert mappings["results"][0]["source"] == "tiny-framework:A.1.1"


@pytest.mark.parametrize("extra", [0, 30])
def test_api_control_list_in_constant_queries(library, personas, client_for, django_assert_num_queries, extra):
    grow("tiny-framework", extra)
    client = signed_in(client_for, personas.member)
    # session, user, memberships; the controls; their questions (cursor pagination counts nothing)
    with django_assert_num_queries(5):
        assert client.get("/api/v1/controls/").status_code == 200


def test_api_refuses_anonymous_with_problem_json(library, client_for):
    response = client_for(None).get("/api/v1/frameworks/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("extra", [0, 30])
def test_api_framework_group_and_mapping_lists_in_constant_queries(
    library, personas, client_for, django_assert_num_queries, extra
):
    from compliance.models import Control
    from compliance.tests.factories import ControlMappingFactory

    grow("tiny-framework", extra)
    first, second = Control.objects.filter(framework__slug="second-framework").order_by("pk")[:2]
    for control in Control.objects.filter(framework__slug="tiny-framework").order_by("pk")[3 : 3 + extra]:
        ControlMappingFactory(source=control, target=first if control.pk % 2 else second)
    client = signed_in(client_for, personas.member)
    for path, queries in [
        ("/api/v1/frameworks/", 4),
        ("/api/v1/frameworks/tiny-framework/", 4),
        ("/api/v1/frameworks/tiny-framework/groups/", 5),
        ("/api/v1/mappings/", 4),  # cursor pagination counts nothing
    ]:
        with django_assert_num_queries(queries):
            assert client.get(path).status_code == 200
