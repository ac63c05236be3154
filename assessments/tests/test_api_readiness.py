"""readiness/, readiness/history/, readiness/explanation/ and gaps/ in the API: the pages' numbers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.scopes import Scope
from assessments import selectors
from assessments.tests.factories import PlanTaskFactory, ReadinessSnapshotFactory
from assessments.tests.test_readiness_views import World, build_world
from compliance.tests.factories import ControlFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery/"
READINESS = f"{BASE}readiness/"
HISTORY = f"{BASE}readiness/history/"
EXPLANATION = f"{BASE}readiness/explanation/"
GAPS = f"{BASE}gaps/"


@pytest.fixture
def world(personas) -> World:
    return build_world(personas.organisation)


def session_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- Now ------------------------------------------------------------------------------------------
def test_readiness_gives_the_scores_the_pages_show(world, personas, api_for):
    response = api_for(personas.organisation, scopes=[Scope.READINESS_READ]).get(READINESS)

    assert response.status_code == 200
    body = response.json()
    # Essentials 61.1 (would fail on mfa), Standard 50.0: the mean is 55.55, rounded half up.
    assert (body["overall"], body["band"], body["would_fail"]) == (55.6, "amber", True)
    essentials, standard = body["frameworks"]
    assert essentials == {
        "framework": {
            "slug": "essentials",
            "name": "Essentials",
            "url": "http://testserver/api/v1/frameworks/essentials/",
        },
        "target_date": world.target.isoformat(),
        "score": 61.1,
        "band": "amber",
        "would_fail": True,
        "applicable": 3,
        "answered": 3,
        "implemented": 1,
        "failing_controls": [{"id": world.mfa.pk, "framework": "essentials", "ref": "mfa", "title": "Mfa control"}],
    }
    assert (standard["score"], standard["would_fail"], standard["target_date"]) == (50.0, False, None)
    readiness = selectors.readiness_for(personas.organisation)
    assert Decimal(str(body["overall"])) == readiness.overall


def test_readiness_without_adopted_frameworks_is_zero(personas, api_for):
    body = api_for(personas.organisation).get(READINESS).json()

    assert (body["overall"], body["band"], body["frameworks"]) == (0.0, "red", [])


def test_readiness_costs_a_fixed_number_of_queries(world, personas, api_for, django_assert_num_queries):
    client = api_for(personas.organisation)
    client.get(READINESS)

    # The key, readiness_for's five, and the failing controls.
    with django_assert_num_queries(7):
        assert client.get(READINESS).status_code == 200


# --- History --------------------------------------------------------------------------------------
def snapshot_series(world: World) -> None:
    start = timezone.now() - timedelta(days=10)
    for day, (essentials, overall) in enumerate(
        [(Decimal("40.0"), Decimal("45.0")), (Decimal("61.1"), Decimal("55.6"))]
    ):
        taken_at = start + timedelta(days=5 * day)
        ReadinessSnapshotFactory(
            organisation=world.organisation, framework=world.essentials, taken_at=taken_at, score=essentials
        )
        ReadinessSnapshotFactory(organisation=world.organisation, framework=None, taken_at=taken_at, score=overall)


def test_history_lists_snapshots_oldest_first(world, personas, api_for):
    snapshot_series(world)
    ReadinessSnapshotFactory(organisation=personas.other_organisation)

    rows = api_for(personas.organisation).get(HISTORY).json()["results"]

    assert [(row["framework"] and row["framework"]["slug"], row["score"]) for row in rows] == [
        ("essentials", 40.0),
        (None, 45.0),
        ("essentials", 61.1),
        (None, 55.6),
    ]
    assert rows == sorted(rows, key=lambda row: row["taken_at"])


@pytest.mark.parametrize(
    ("query", "scores"),
    [
        ("framework=essentials", [40.0, 61.1]),
        ("framework=overall", [45.0, 55.6]),
        ("framework=standard", []),
        (f"since={(timezone.localdate() - timedelta(days=7)).isoformat()}", [61.1, 55.6]),
    ],
)
def test_history_is_filtered(world, personas, api_for, query, scores):
    snapshot_series(world)

    rows = api_for(personas.organisation).get(f"{HISTORY}?{query}").json()["results"]

    assert [row["score"] for row in rows] == scores


def test_a_malformed_since_is_a_400(world, personas, api_for):
    response = api_for(personas.organisation).get(f"{HISTORY}?since=last-week")

    assert response.status_code == 400
    assert "since" in response.json()["errors"]


def test_history_pages_through_snapshots_taken_together(world, personas, api_for):
    snapshot_series(world)
    client = api_for(personas.organisation)
    seen, url = [], f"{HISTORY}?page_size=1"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == len(set(seen)) == 4


def test_history_costs_the_same_for_one_snapshot_or_many(world, personas, api_for, django_assert_num_queries):
    ReadinessSnapshotFactory(organisation=personas.organisation, framework=world.essentials)
    client = api_for(personas.organisation)
    client.get(HISTORY)

    with django_assert_num_queries(2):
        assert len(client.get(HISTORY).json()["results"]) == 1
    snapshot_series(world)
    with django_assert_num_queries(2):
        assert len(client.get(HISTORY).json()["results"]) == 5


# --- Explanation ----------------------------------------------------------------------------------
def test_explanation_adds_up_as_the_page_does(world, personas, api_for, client_for):
    response = api_for(personas.organisation).get(f"{EXPLANATION}?framework=essentials")

    assert response.status_code == 200
    body = response.json()
    page = client_for(personas.owner).get("/readiness/essentials/").context
    assert body["score"] == 61.1
    assert body["totals"] == {"weight": 9, "weighted_credit": 5.5, "possible": 100.0, "earned": 61.1, "lost": 38.9}
    assert Decimal(str(body["totals"]["earned"])) == page["total_earned"]
    assert [(g["ref"], g["earned"], g["lost"], g["score"]) for g in body["groups"]] == [
        (g.ref, float(g.earned), float(g.lost), float(g.score.percent)) for g in page["groups"]
    ]
    assert body["counts"] == {
        "implemented": 1,
        "partial": 1,
        "not_implemented": 1,
        "not_applicable": 1,
        "unanswered": 0,
        "excluded_by_profile": 1,
    }
    assert body["came_through"] == {"mapping": 1, "policy": 0, "unevidenced": 0}
    assert [c["ref"] for c in body["failing_controls"]] == ["mfa"]


def test_explanation_states_the_formula_from_the_scoring_module(world, personas, api_for):
    formula = api_for(personas.organisation).get(f"{EXPLANATION}?framework=essentials").json()["formula"]

    assert formula["credits"] == {
        "implemented": 1.0,
        "partial": 0.5,
        "not_implemented": 0.0,
        "unanswered": 0.0,
        "implemented_without_current_evidence": 0.75,
    }
    assert (formula["green_from"], formula["amber_from"]) == (80.0, 50.0)
    assert any("auto-fail" in rule for rule in formula["rules"])


def test_explanation_ranks_the_top_gaps_with_the_points_each_adds(world, personas, api_for):
    gaps = api_for(personas.organisation).get(f"{EXPLANATION}?framework=essentials").json()["top_gaps"]

    # mfa first (auto-fail): 55.6 possible, 27.8 earned; firewall 11.1, mapped to logging so impact doubles.
    assert [(g["control"]["ref"], g["points"], g["impact"], g["auto_fail"]) for g in gaps] == [
        ("mfa", 27.8, 27.8, True),
        ("firewall", 11.1, 22.2, False),
    ]


def test_explanation_says_what_is_left_out_and_why(world, personas, api_for):
    excluded = api_for(personas.organisation).get(f"{EXPLANATION}?framework=essentials").json()["excluded"]

    assert {item["control"]["ref"]: item["reason"] for item in excluded} == {
        "premises": "not_applicable",
        "children": "profile",
    }
    premises, children = excluded
    assert premises["detail"] == "We work from home; there are no premises."
    assert children["unmet_facts"] == ["childrens_data"]
    assert children["detail"].startswith("Applies only if the business ")


@pytest.mark.parametrize("query", ["", "?framework=", "?framework=pci-dss", "?framework=nope"])
def test_explanation_needs_an_adopted_framework(world, personas, api_for, query):
    response = api_for(personas.organisation).get(f"{EXPLANATION}{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "adopted frameworks" in response.json()["errors"]["framework"][0]


def test_explanation_costs_a_fixed_number_of_queries(world, personas, api_for, django_assert_num_queries):
    client = api_for(personas.organisation)
    client.get(f"{EXPLANATION}?framework=essentials")

    # The key, readiness_for's five, the framework's controls and their groups, not-applicable answers.
    with django_assert_num_queries(9):
        client.get(f"{EXPLANATION}?framework=essentials")


# --- Gaps -----------------------------------------------------------------------------------------
def test_gaps_come_in_the_pages_order_with_why_and_how(world, personas, api_for, client_for):
    task = PlanTaskFactory(organisation=personas.organisation)
    task.controls.set([world.firewall])

    response = api_for(personas.organisation).get(GAPS)

    assert response.status_code == 200
    body = response.json()
    page = client_for(personas.owner).get("/gaps/").context
    assert body["count"] == page["gap_count"] == 3
    assert [g["control"]["id"] for g in body["results"]] == [row.gap.control_id for row in page["rows"]]
    mfa, logging, firewall = body["results"]
    assert mfa["control"]["ref"] == "mfa"
    assert mfa["framework"]["slug"] == "essentials"
    assert (mfa["status"], mfa["auto_fail"], mfa["points"], mfa["priority"]) == ("partial", True, 27.8, 1)
    assert mfa["why_it_matters"] == world.mfa.description
    assert mfa["how_to_close"] == "How to close mfa."
    assert mfa["open_task_id"] is None
    assert (logging["status"], logging["mapped_count"]) == (None, 1)
    assert firewall["open_task_id"] == task.pk


def test_gaps_are_filtered_by_framework(world, personas, api_for):
    body = api_for(personas.organisation).get(f"{GAPS}?framework=standard").json()

    assert body["count"] == 1
    assert [g["control"]["ref"] for g in body["results"]] == ["logging"]


def test_gaps_are_paged_with_limit_and_offset(world, personas, api_for):
    client = api_for(personas.organisation)

    first = client.get(f"{GAPS}?limit=2").json()
    rest = client.get(f"{GAPS}?limit=2&offset=2").json()

    assert (first["count"], first["limit"], first["offset"]) == (3, 2, 0)
    assert [g["control"]["ref"] for g in first["results"] + rest["results"]] == ["mfa", "logging", "firewall"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("framework=nope", "framework"),
    ],
)
def test_bad_gap_parameters_are_400(world, personas, api_for, query, field):
    response = api_for(personas.organisation).get(f"{GAPS}?{query}")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_gaps_cost_a_fixed_number_of_queries(personas, api_for, django_assert_num_queries):
    world = build_world(personas.organisation)
    client = api_for(personas.organisation)
    client.get(GAPS)

    # The key, readiness_for's five, the page's controls, the open tasks.
    with django_assert_num_queries(8):
        few = client.get(GAPS).json()["count"]
    # Twenty more unanswered controls: twenty more gaps.
    ControlFactory.create_batch(20, framework=world.essentials, group=world.firewall.group)
    with django_assert_num_queries(8):
        assert client.get(GAPS).json()["count"] == few + 20


# --- Who may ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["readiness/", "readiness/history/", "readiness/explanation/?framework=essentials", "gaps/"]
)
def test_each_operation_needs_readiness_read(world, personas, api_for, path):
    client = api_for(personas.organisation, scopes=set(Scope) - {Scope.READINESS_READ})

    response = client.get(BASE + path)

    assert response.status_code == 403
    assert "readiness:read" in response.json()["detail"]


@pytest.mark.parametrize("path", ["readiness/", "readiness/history/", "gaps/"])
def test_without_a_key_the_answer_is_401(world, path):
    assert APIClient().get(BASE + path).status_code == 401


def test_another_organisations_key_cannot_reach_them(world, personas, api_for):
    assert api_for(personas.other_organisation).get(READINESS).status_code == 404


def test_a_partner_granted_readiness_only_reads_it(world, personas, api_for):
    from accounts.tests.factories import PartnerFactory, PartnerGrantFactory

    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=["readiness:read"])
    client = api_for(partner=partner)

    assert client.get(READINESS).json()["overall"] == 55.6
    assert client.get(f"{BASE}answers/").status_code == 403


def test_a_viewers_session_reads_readiness(world, personas):
    assert session_for(personas.viewer).get(READINESS).json()["overall"] == 55.6
