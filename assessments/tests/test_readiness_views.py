"""Readiness explained and the gap list, driven through the views."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Organisation
from assessments import selectors, services
from assessments.models import AnswerStatus, FrameworkAdoption, PlanTask
from assessments.tests.factories import AnswerFactory, BusinessProfileFactory, FrameworkAdoptionFactory, PlanTaskFactory
from compliance.models import Control, Framework, Relationship
from compliance.tests.factories import (
    ControlFactory,
    ControlGroupFactory,
    ControlMappingFactory,
    FrameworkFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REQUEST_BASELINE = 3  # session, user, memberships


@dataclass
class World:
    """Two adopted frameworks, answered by hand so every number below can be worked out on paper.

    Essentials (target in 60 days), counted controls:
      mfa      weight 5, auto-fail, partial          -> 2.5 of 5
      patching weight 3, not answered, but covered by Standard's backups (equal, implemented) -> 3 of 3
      firewall weight 1, not implemented            -> 0 of 1
    left out: children (profile: no children's data), premises (answered not applicable).
    Readiness = 100 × 5.5 ÷ 9 = 61.1%, would fail (mfa).

    Standard (no target): backups weight 3 implemented, logging weight 3 not answered, mapped to firewall.
    Readiness = 100 × 3 ÷ 6 = 50.0%.
    """

    organisation: Organisation
    essentials: Framework
    standard: Framework
    mfa: Control
    patching: Control
    firewall: Control
    children: Control
    premises: Control
    backups: Control
    logging: Control
    target: date


def build_world(organisation: Organisation, *, extra_controls: int = 0) -> World:
    BusinessProfileFactory(organisation=organisation, childrens_data=False)
    essentials = FrameworkFactory(slug="essentials", name="Essentials", position=1)
    standard = FrameworkFactory(slug="standard", name="Standard", position=2)
    access = ControlGroupFactory(framework=essentials, ref="A", title="Access control", position=1)
    network = ControlGroupFactory(framework=essentials, ref="N", title="Network", position=2)
    operations = ControlGroupFactory(framework=standard, ref="O", title="Operations", position=1)

    def control(group, ref, weight, **kwargs):
        return ControlFactory(
            group=group,
            framework=group.framework,
            ref=ref,
            title=f"{ref.title()} control",
            weight=weight,
            guidance=f"How to close {ref}.",
            **kwargs,
        )

    mfa = control(access, "mfa", 5, auto_fail=True)
    patching = control(access, "patching", 3)
    firewall = control(network, "firewall", 1)
    children = control(access, "children", 4, applies_if=["childrens_data"])
    premises = control(network, "premises", 2)
    backups = control(operations, "backups", 3)
    logging = control(operations, "logging", 3)
    for number in range(extra_controls):
        control(network, f"extra-{number}", 2)
    ControlMappingFactory(source=backups, target=patching, relationship=Relationship.EQUAL)
    ControlMappingFactory(source=logging, target=firewall, relationship=Relationship.INTERSECT)
    target = timezone.localdate() + timedelta(days=60)
    FrameworkAdoptionFactory(organisation=organisation, framework=essentials, target_date=target)
    FrameworkAdoptionFactory(organisation=organisation, framework=standard)
    current = services.round_current(organisation=organisation)
    for subject, status, extra in [
        (mfa, AnswerStatus.PARTIAL, {}),
        (firewall, AnswerStatus.NOT_IMPLEMENTED, {}),
        (premises, AnswerStatus.NOT_APPLICABLE, {"justification": "We work from home; there are no premises."}),
        (backups, AnswerStatus.IMPLEMENTED, {}),
    ]:
        AnswerFactory(organisation=organisation, round=current, control=subject, status=status, **extra)
    return World(
        organisation, essentials, standard, mfa, patching, firewall, children, premises, backups, logging, target
    )


@pytest.fixture
def world(personas) -> World:
    return build_world(personas.organisation)


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/plan/")  # settle the session's current organisation
    return browser


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- /readiness/ ----------------------------------------------------------------------------------
def test_readiness_page_states_the_formula_and_each_frameworks_score(world, owner_browser):
    response = owner_browser.get("/readiness/")

    assert response.status_code == 200
    page = text_of(response)
    assert "Readiness = 100 × (weight × credit, added up) ÷ (weight, added up)" in page
    assert "green</strong> from 80%" in page
    assert "amber</strong> from 50%" in page
    assert "Essentials" in page
    assert "61.1%" in page
    assert "Standard" in page
    assert "50.0%" in page
    assert "/readiness/essentials/" in page
    assert "/readiness/standard/" in page


def test_readiness_page_warns_which_auto_fail_controls_would_fail(world, owner_browser):
    page = text_of(owner_browser.get("/readiness/"))

    assert page.count("Would fail.") == 1
    warning = page[page.index("Would fail.") :]
    assert "/frameworks/essentials/controls/mfa/" in warning
    assert "partially implemented" in warning


def test_readiness_page_without_adopted_frameworks_points_to_recommendations(personas, owner_browser):
    page = text_of(owner_browser.get("/readiness/"))

    assert "No frameworks adopted yet" in page
    assert 'href="/recommendations/"' in page


# --- /readiness/<slug>/ ---------------------------------------------------------------------------
def test_explanation_lists_every_counted_control_most_points_lost_first(world, owner_browser):
    response = owner_browser.get("/readiness/essentials/")

    assert response.status_code == 200
    refs = [row.control.ref for row in response.context["rows"]]
    assert refs == ["mfa", "firewall", "patching"]
    page = text_of(response)
    # mfa: 100 × 5 ÷ 9 = 55.6 possible, half earned; firewall 11.1 lost; patching earned through the mapping.
    assert re.search(r"mfa</span> Mfa control.*?55\.6</td> <td class=\"num\">27\.8</td> <td class=\"num\">27\.8", page)
    assert "via mapping from Standard backups" in page
    assert "100 × 5.5 ÷ 9 = <strong>61.1%</strong>" in page


def test_explanation_totals_equal_the_score(world, owner_browser, personas):
    response = owner_browser.get("/readiness/essentials/")

    score = selectors.readiness_for(personas.organisation).for_framework(world.essentials.pk).score
    assert response.context["total_earned"] == score.percent == Decimal("61.1")
    assert response.context["total_possible"] == Decimal(100)
    assert response.context["total_lost"] == Decimal("38.9")
    assert response.context["total_weight"] == 9
    assert 'data-total="earned">61.1</td>' in response.content.decode()


def test_explanation_totals_equal_the_score_when_rounded_rows_do_not_add_up(personas, owner_browser):
    """Three equal controls are worth 33.3 points each; all implemented, the total is still 100.0."""
    framework = FrameworkFactory(slug="thirds")
    group = ControlGroupFactory(framework=framework)
    controls = ControlFactory.create_batch(3, group=group, framework=framework, weight=2)
    FrameworkAdoptionFactory(organisation=personas.organisation, framework=framework)
    current = services.round_current(organisation=personas.organisation)
    for control in controls:
        AnswerFactory(
            organisation=personas.organisation, round=current, control=control, status=AnswerStatus.IMPLEMENTED
        )

    response = owner_browser.get("/readiness/thirds/")

    assert [row.contribution.earned for row in response.context["rows"]] == [Decimal("33.3")] * 3
    assert response.context["total_earned"] == Decimal("100.0")
    assert "Would fail" not in response.content.decode()


def test_explanation_subtotals_each_group(world, owner_browser):
    groups = {group.title: group for group in owner_browser.get("/readiness/essentials/").context["groups"]}

    access, network = groups["Access control"], groups["Network"]
    assert (access.weight, access.possible, access.earned, access.lost) == (
        8,
        Decimal("88.9"),
        Decimal("61.1"),
        Decimal("27.8"),
    )
    assert access.score.percent == Decimal("68.8")  # 5.5 of 8 within the group
    assert (network.weight, network.possible, network.earned, network.lost) == (
        1,
        Decimal("11.1"),
        Decimal(0),
        Decimal("11.1"),
    )
    assert list(groups) == ["Access control", "Network"]  # most points lost first


def test_explanation_lists_excluded_controls_with_their_reasons(world, owner_browser):
    response = owner_browser.get("/readiness/essentials/")

    assert [item.control.ref for item in response.context["excluded_by_answer"]] == ["premises"]
    assert [item.control.ref for item in response.context["excluded_by_profile"]] == ["children"]
    page = text_of(response)
    assert "Why: We work from home; there are no premises." in page
    assert "Applies only if your business handles children&#x27;s personal data; your profile says it does not." in page


def test_explanation_of_a_framework_not_adopted_is_not_found(world, owner_browser):
    FrameworkFactory(slug="unadopted")

    assert owner_browser.get("/readiness/unadopted/").status_code == 404
    assert owner_browser.get("/readiness/no-such-framework/").status_code == 404


def test_explanation_of_another_organisations_framework_is_not_found(world, personas, client_for):
    FrameworkAdoption.objects.filter(organisation=personas.other_organisation).delete()

    assert client_for(personas.outsider).get("/readiness/essentials/").status_code == 404


# --- /gaps/ ---------------------------------------------------------------------------------------
def test_gaps_are_ordered_by_impact_with_auto_fail_first(world, owner_browser):
    response = owner_browser.get("/gaps/")

    assert response.status_code == 200
    rows = response.context["rows"]
    # mfa: auto-fail. logging: 50 points lost in Standard, × 2 for its mapping. firewall: 11.1 × 2.
    assert [row.control.ref for row in rows] == ["mfa", "logging", "firewall"]
    assert [row.gap.lost_points for row in rows] == [Decimal("27.8"), Decimal("50.0"), Decimal("11.1")]


def test_each_gap_shows_framework_status_points_mapping_badge_guidance_and_link(world, owner_browser):
    page = text_of(owner_browser.get("/gaps/"))

    mfa = page[page.index('id="gap-' + str(world.mfa.pk) + '"') : page.index('id="gap-' + str(world.logging.pk) + '"')]
    assert "Essentials" in mfa
    assert "Auto-fail" in mfa
    assert "Partially implemented" in mfa
    assert "<strong>27.8</strong> points lost" in mfa
    assert 'href="/frameworks/essentials/controls/mfa/"' in mfa
    assert '<summary>How to close it</summary> <div class="prose"><p>How to close mfa.</p></div>' in mfa
    firewall = page[page.index('id="gap-' + str(world.firewall.pk) + '"') :]
    assert "also closes 1 mapped control" in firewall


def test_gaps_filter_by_framework(world, owner_browser):
    response = owner_browser.get("/gaps/?framework=standard")

    assert [row.control.ref for row in response.context["rows"]] == ["logging"]
    assert response.context["chosen"] == world.standard


def test_gaps_filter_swaps_only_the_results_for_htmx(world, owner_browser):
    response = owner_browser.get("/gaps/?framework=essentials", **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="gap-results"')
    assert "<html" not in body


def test_gaps_offer_add_to_plan_only_where_no_open_task_covers_them(world, owner_browser, personas):
    task = PlanTaskFactory(organisation=personas.organisation)
    task.controls.set([world.mfa])
    done = PlanTaskFactory(organisation=personas.organisation, status="done")
    done.controls.set([world.firewall])

    page = text_of(owner_browser.get("/gaps/"))

    planned = f'id="gap-plan-{world.mfa.pk}"><span class="badge badge-success">In the plan</span>'
    assert f'{planned} <a href="/plan/tasks/{task.pk}/">' in page
    assert f'<form class="gap-plan" id="gap-plan-{world.firewall.pk}"' in page  # a done task does not cover it
    assert page.count("Add to plan</button>") == 2


def test_viewer_sees_gaps_without_add_to_plan(world, personas, client_for):
    page = text_of(client_for(personas.viewer).get("/gaps/"))

    assert "How to close it" in page
    assert "Add to plan" not in page


def test_add_to_plan_from_gaps_creates_a_task_joined_with_mapped_gaps(world, owner_browser, personas):
    shown = f"{world.mfa.pk},{world.logging.pk},{world.firewall.pk}"
    response = owner_browser.post(
        "/plan/tasks/",
        {
            "from": "gaps",
            "title": "Standard logging: Logging control",
            "priority": "3",
            "effort": "medium",
            "controls": [world.logging.pk, world.firewall.pk],
            "shown": shown,
            "next": "/gaps/",
        },
        **HTMX,
    )

    assert response.status_code == 200
    task = PlanTask.objects.get(organisation=personas.organisation)
    assert set(task.controls.all()) == {world.logging, world.firewall}
    body = text_of(response)
    assert f'<p class="gap-plan" id="gap-plan-{world.logging.pk}">' in body
    assert f'<p class="gap-plan" id="gap-plan-{world.firewall.pk}" hx-swap-oob="true">' in body
    assert "<html" not in body


def test_add_to_plan_without_javascript_returns_to_the_gaps(world, owner_browser):
    response = owner_browser.post(
        "/plan/tasks/",
        {
            "from": "gaps",
            "title": "Essentials mfa",
            "priority": "1",
            "effort": "medium",
            "controls": [world.mfa.pk],
            "next": "/gaps/?framework=essentials",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/gaps/?framework=essentials"


def test_add_to_plan_with_a_control_of_a_framework_not_adopted_is_not_found(world, owner_browser, personas):
    stranger = ControlFactory()

    response = owner_browser.post(
        "/plan/tasks/", {"title": "Sneaky", "priority": "3", "effort": "small", "controls": [stranger.pk]}
    )

    assert response.status_code == 404
    assert not PlanTask.objects.filter(organisation=personas.organisation).exists()


def test_gaps_without_adopted_frameworks_show_the_empty_state(personas, owner_browser):
    page = text_of(owner_browser.get("/gaps/"))

    assert "No frameworks adopted yet" in page


def test_gaps_when_everything_is_implemented_say_so(personas, owner_browser):
    framework = FrameworkFactory(slug="done-already", name="Done already")
    control = ControlFactory(framework=framework, group=ControlGroupFactory(framework=framework))
    FrameworkAdoptionFactory(organisation=personas.organisation, framework=framework)
    AnswerFactory(
        organisation=personas.organisation,
        round=services.round_current(organisation=personas.organisation),
        control=control,
        status=AnswerStatus.IMPLEMENTED,
    )

    page = text_of(owner_browser.get("/gaps/"))

    assert "No gaps" in page
    assert "is implemented" in page


# --- The view matrix ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/readiness/", "/readiness/essentials/", "/gaps/"])
@pytest.mark.parametrize("persona", ["owner", "member", "viewer", "consultant"])
def test_every_member_may_read_readiness_and_gaps(world, personas, client_for, path, persona):
    assert client_for(getattr(personas, persona)).get(path).status_code == 200


@pytest.mark.parametrize("path", ["/readiness/", "/readiness/essentials/", "/gaps/"])
def test_anonymous_visitors_are_sent_to_sign_in(world, client_for, path):
    response = client_for(None).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/readiness/", "/readiness/essentials/", "/gaps/"])
def test_readiness_pages_refuse_post(world, owner_browser, path):
    assert owner_browser.post(path).status_code == 405


def test_outsider_sees_only_their_own_organisation(world, personas, client_for):
    browser = client_for(personas.outsider)

    assert "No frameworks adopted yet" in browser.get("/gaps/").content.decode()
    assert "61.1%" not in browser.get("/readiness/").content.decode()


# --- Pinned query counts --------------------------------------------------------------------------
READINESS_QUERIES = 5  # adoptions, profile, controls, answers (of the open round), mappings


@pytest.mark.parametrize("extra", [0, 90])
def test_readiness_page_queries_do_not_grow(personas, owner_browser, django_assert_num_queries, extra):
    build_world(personas.organisation, extra_controls=extra)

    # + the models of the controls that would fail
    with django_assert_num_queries(REQUEST_BASELINE + READINESS_QUERIES + 1):
        assert owner_browser.get("/readiness/").status_code == 200


@pytest.mark.parametrize("extra", [0, 90])
def test_explanation_queries_do_not_grow(personas, owner_browser, django_assert_num_queries, extra):
    build_world(personas.organisation, extra_controls=extra)

    # + the adoption looked up by slug; the framework's controls, their groups, and the answers marked
    #   not applicable (for their reasons)
    with django_assert_num_queries(REQUEST_BASELINE + 1 + READINESS_QUERIES + 3):
        assert owner_browser.get("/readiness/essentials/").status_code == 200


@pytest.mark.parametrize("extra", [3, 93])
def test_gaps_queries_do_not_grow(personas, owner_browser, django_assert_num_queries, extra):
    """10 controls and 10 tasks, then 100 of each."""
    world = build_world(personas.organisation, extra_controls=extra)
    for number in range(extra + 7):
        PlanTaskFactory(organisation=personas.organisation, title=f"Task {number}").controls.set([world.mfa])

    # + the open tasks by control, + the controls of the gaps on the page, with their guidance
    with django_assert_num_queries(REQUEST_BASELINE + READINESS_QUERIES + 2):
        response = owner_browser.get("/gaps/")
    assert len(response.context["rows"]) == min(3 + extra, 50)
    with django_assert_num_queries(REQUEST_BASELINE + READINESS_QUERIES + 2):
        owner_browser.get("/gaps/?framework=essentials&page=2", **HTMX)
