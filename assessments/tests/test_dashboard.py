"""The dashboard: the next step for each state of the journey, what it shows, who sees what, and its queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.tests.factories import AuditEventFactory
from assessments import services
from assessments.models import AnswerStatus, Priority, TaskStatus
from assessments.tests.factories import (
    AnswerFactory,
    BusinessProfileFactory,
    FrameworkAdoptionFactory,
    PlanTaskFactory,
    ReadinessSnapshotFactory,
)
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory

pytestmark = pytest.mark.django_db

REQUEST_BASELINE = 3  # session, user, memberships (accounts/tests/test_queries.py)


# --- Building an organisation's journey -----------------------------------------------------------
def adopt(organisation, name: str, weights: list[int], *, auto_fail: int = 0, slug: str = ""):
    """Adopt a new framework of controls with these weights; the first `auto_fail` of them fail it."""
    framework = FrameworkFactory(name=name, **({"slug": slug} if slug else {}))
    group = ControlGroupFactory(framework=framework)
    controls = [
        ControlFactory(group=group, weight=weight, auto_fail=index < auto_fail, title=f"{name} control {index}")
        for index, weight in enumerate(weights)
    ]
    FrameworkAdoptionFactory(organisation=organisation, framework=framework)
    return framework, controls


def answer(organisation, controls, status=AnswerStatus.IMPLEMENTED):
    current = services.round_current(organisation=organisation)
    return [AnswerFactory(organisation=organisation, round=current, control=c, status=status) for c in controls]


def profiled(organisation):
    return BusinessProfileFactory(organisation=organisation, completed_at=timezone.now(), last_step="goal")


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/")  # settle the session's current organisation
    return browser


def next_step(response):
    return response.context["next_step"]


# --- The next step, state by state ----------------------------------------------------------------
def test_new_organisation_is_welcomed_with_the_business_profile_as_first_step(owner_browser):
    response = owner_browser.get("/")

    assert response.status_code == 200
    assert next_step(response).key == "profile"
    html = response.content.decode()
    assert "Welcome to Acme Bakery Ltd" in html
    assert "Tell us about your business" in html
    assert 'href="/onboarding/"' in html
    # The setting-up suggestions stay.
    assert "Invite your team" in html
    assert "Protect your account" in html


def test_a_half_finished_profile_is_continued(personas, owner_browser):
    BusinessProfileFactory(organisation=personas.organisation, last_step="data")

    step = next_step(owner_browser.get("/"))

    assert (step.key, step.action) == ("profile", "Continue your business profile")


def test_profile_done_but_nothing_adopted_leads_to_choosing_frameworks(personas, owner_browser):
    profiled(personas.organisation)

    response = owner_browser.get("/")

    assert next_step(response).key == "frameworks"
    assert "Choose your frameworks" in response.content.decode()
    assert 'href="/recommendations/"' in response.content.decode()


def test_adopted_with_few_answers_leads_to_the_assessment(personas, owner_browser):
    profiled(personas.organisation)
    _framework, controls = adopt(personas.organisation, "Cyber Essentials", [3] * 10)
    answer(personas.organisation, controls[:4])

    response = owner_browser.get("/")

    step = next_step(response)
    assert step.key == "assessment"
    assert "answered 4 of the 10 controls" in step.text
    assert 'href="/assessment/"' in response.content.decode()


def test_answered_without_a_plan_leads_to_building_the_plan(personas, owner_browser):
    profiled(personas.organisation)
    _framework, controls = adopt(personas.organisation, "Cyber Essentials", [3] * 4)
    answer(personas.organisation, controls[:2])
    answer(personas.organisation, controls[2:], AnswerStatus.NOT_IMPLEMENTED)

    step = next_step(owner_browser.get("/"))

    assert (step.key, step.title, step.url) == ("plan", "Build your plan", "/plan/")
    assert "found 2 gaps" in step.text


def test_with_a_plan_the_next_step_is_the_task_due_soonest(personas, owner_browser):
    organisation = personas.organisation
    profiled(organisation)
    _framework, controls = adopt(organisation, "Cyber Essentials", [3] * 2)
    answer(organisation, controls, AnswerStatus.PARTIAL)
    today = timezone.localdate()
    PlanTaskFactory(organisation=organisation, title="Later task", due_date=today + timedelta(days=9))
    PlanTaskFactory(
        organisation=organisation, title="Finished task", due_date=today - timedelta(days=9), status=TaskStatus.DONE
    )
    soonest = PlanTaskFactory(
        organisation=organisation, title="Turn on MFA everywhere", due_date=today - timedelta(days=1)
    )

    response = owner_browser.get("/")

    step = next_step(response)
    assert (step.key, step.title, step.url) == ("task", "Turn on MFA everywhere", f"/plan/tasks/{soonest.pk}/")
    assert "overdue" in step.text


def test_when_every_task_is_done_the_next_step_is_to_review_readiness(personas, owner_browser):
    organisation = personas.organisation
    profiled(organisation)
    _framework, controls = adopt(organisation, "Cyber Essentials", [3])
    answer(organisation, controls, AnswerStatus.PARTIAL)
    PlanTaskFactory(organisation=organisation, status=TaskStatus.DONE)

    step = next_step(owner_browser.get("/"))

    assert (step.key, step.url) == ("review", "/readiness/")


def test_a_viewer_is_told_who_can_take_the_next_step(personas, client_for):
    response = client_for(personas.viewer).get("/")

    html = response.content.decode()
    assert "Tell us about your business" in html
    assert 'href="/onboarding/"' not in html
    assert "ask an owner, admin or member" in html


# --- What the dashboard shows ---------------------------------------------------------------------
@pytest.fixture
def journey(personas):
    """Acme mid-journey: Cyber Essentials with an unmet auto-fail control, and UK GDPR fully implemented.

    Cyber Essentials: weights 2 (auto-fail, not implemented), 3 implemented, 5 partial -> (3 + 2.5) / 10 = 55%.
    UK GDPR: one control implemented -> 100%. Overall: (55 + 100) / 2 = 77.5%.
    """
    organisation = personas.organisation
    profiled(organisation)
    ce, ce_controls = adopt(organisation, "Cyber Essentials", [2, 3, 5], auto_fail=1, slug="cyber-essentials")
    gdpr, gdpr_controls = adopt(organisation, "UK GDPR", [4], slug="uk-gdpr")
    answer(organisation, ce_controls[:1], AnswerStatus.NOT_IMPLEMENTED)
    answer(organisation, ce_controls[1:2], AnswerStatus.IMPLEMENTED)
    answer(organisation, ce_controls[2:], AnswerStatus.PARTIAL)
    answer(organisation, gdpr_controls, AnswerStatus.IMPLEMENTED)
    return ce, ce_controls, gdpr


def test_shows_readiness_per_framework_with_band_in_words(journey, owner_browser):
    response = owner_browser.get("/")

    cards = {card.readiness.framework.name: card for card in response.context["cards"]}
    assert cards["Cyber Essentials"].readiness.score.percent == Decimal("55.0")
    assert cards["UK GDPR"].readiness.score.percent == Decimal("100.0")
    html = response.content.decode()
    assert "Amber: getting there" in html
    assert "Green: on track" in html
    assert response.context["overall"]["percent"] == Decimal("77.5")
    assert "77.5%" in html


def test_warns_that_cyber_essentials_would_fail_and_names_the_control(journey, owner_browser):
    _ce, ce_controls, _gdpr = journey

    html = owner_browser.get("/").content.decode()

    assert "Would fail today." in html
    assert "Cyber Essentials would fail today" in html
    assert f'href="/frameworks/cyber-essentials/controls/{ce_controls[0].ref}/"' in html


def test_no_would_fail_warning_once_auto_fail_controls_are_met(journey, personas, owner_browser):
    _ce, ce_controls, _gdpr = journey
    services.answer_save(
        organisation=personas.organisation,
        control=ce_controls[0],
        status=AnswerStatus.IMPLEMENTED,
        actor=Actor(user=personas.owner),
    )

    html = owner_browser.get("/").content.decode()
    assert "Would fail today." not in html
    assert "Cyber Essentials would fail today" not in html


def test_lists_the_top_five_gaps_linking_to_controls_and_the_gap_list(personas, owner_browser):
    organisation = personas.organisation
    profiled(organisation)
    _framework, controls = adopt(organisation, "ISO 27001", [1, 2, 3, 4, 5, 5, 1], slug="iso27001")
    answer(organisation, controls, AnswerStatus.NOT_IMPLEMENTED)

    response = owner_browser.get("/")

    gaps = response.context["gaps"]
    assert len(gaps) == 5
    assert [row.gap.control.weight for row in gaps] == [5, 5, 4, 3, 2]  # costliest first
    html = response.content.decode()
    assert f'href="/frameworks/iso27001/controls/{controls[4].ref}/"' in html
    assert 'href="/gaps/"' in html
    assert "See all 7 gaps" in html


def test_lists_overdue_tasks_and_tasks_due_within_14_days_only(journey, personas, owner_browser):
    organisation = personas.organisation
    today = timezone.localdate()
    PlanTaskFactory(
        organisation=organisation,
        title="Patch the router",
        due_date=today - timedelta(days=3),
        priority=Priority.CRITICAL,
        owner=personas.member,
    )
    PlanTaskFactory(organisation=organisation, title="Write the backup policy", due_date=today + timedelta(days=14))
    PlanTaskFactory(organisation=organisation, title="Far future task", due_date=today + timedelta(days=15))
    PlanTaskFactory(organisation=organisation, title="Already done task", due_date=today, status=TaskStatus.DONE)
    PlanTaskFactory(organisation=personas.other_organisation, title="Rival task", due_date=today)

    response = owner_browser.get("/")

    assert [task.title for task in response.context["tasks"]] == ["Patch the router", "Write the backup policy"]
    html = response.content.decode()
    assert "Overdue" in html
    assert "Far future task" not in html
    assert "Already done task" not in html
    assert "Rival task" not in html


def test_trend_charts_show_the_last_90_days_of_snapshots(journey, personas, owner_browser):
    ce, _controls, _gdpr = journey
    organisation = personas.organisation
    now = timezone.now()
    ReadinessSnapshotFactory(
        organisation=organisation, framework=ce, score=Decimal("12.5"), taken_at=now - timedelta(days=30)
    )
    ReadinessSnapshotFactory(
        organisation=organisation, framework=None, score=Decimal("33.3"), taken_at=now - timedelta(days=30)
    )
    ReadinessSnapshotFactory(
        organisation=organisation, framework=ce, score=Decimal("7.3"), taken_at=now - timedelta(days=120)
    )
    ReadinessSnapshotFactory(
        organisation=personas.other_organisation, framework=ce, score=Decimal("99.9"), taken_at=now - timedelta(days=10)
    )

    html = owner_browser.get("/").content.decode()

    assert html.count('role="img"') == 3  # overall and one per framework
    assert "Cyber Essentials readiness over the last 90 days" in html
    assert "<td>12.5%</td>" in html
    assert "<td>33.3%</td>" in html
    assert "7.3%" not in html  # older than 90 days
    assert "99.9%" not in html  # another organisation's
    assert "from 12.5% on" in html
    assert "to 55% on" in html  # the line ends at today's live score
    assert 'style="' not in html


def test_owners_and_admins_see_the_organisations_recent_activity(journey, personas, client_for):
    AuditEventFactory(
        organisation=personas.organisation,
        actor=personas.member,
        actor_label="member@acme.example",
        summary="Member changed an answer",
    )
    AuditEventFactory(organisation=personas.other_organisation, summary="Rival secret change")

    for user in (personas.owner, personas.admin):
        response = client_for(user).get("/")
        html = response.content.decode()
        assert "Recent activity" in html
        assert "Member changed an answer" in html
        assert "Rival secret change" not in html
        assert 'href="/settings/audit/"' in html


def test_recent_activity_shows_the_latest_eight_events(journey, personas, owner_browser):
    for number in range(12):
        AuditEventFactory(
            organisation=personas.organisation,
            summary=f"Change {number:02d}",
            created_at=timezone.now() + timedelta(minutes=number),
        )

    events = list(owner_browser.get("/").context["activity"])

    assert [event.summary for event in events] == [f"Change {n:02d}" for n in range(11, 3, -1)]


def test_members_see_only_their_own_recent_changes(journey, personas, client_for):
    AuditEventFactory(organisation=personas.organisation, actor=personas.member, summary="My own change")
    AuditEventFactory(organisation=personas.organisation, actor=personas.owner, summary="The owner's change")

    html = client_for(personas.member).get("/").content.decode()

    assert "Your recent changes" in html
    assert "My own change" in html
    assert "The owner's change" not in html
    assert 'href="/settings/audit/"' not in html


def test_viewers_see_no_activity(journey, personas, client_for):
    AuditEventFactory(organisation=personas.organisation, actor=personas.owner, summary="The owner's change")

    response = client_for(personas.viewer).get("/")

    assert response.context["activity"] is None
    html = response.content.decode()
    assert "The owner's change" not in html
    assert "Recent activity" not in html


# --- Who may see it -------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer", "consultant"])
def test_every_member_can_see_the_dashboard(journey, personas, client_for, role):
    response = client_for(getattr(personas, role)).get("/")

    assert response.status_code == 200
    assert "Cyber Essentials" in response.content.decode()


def test_an_outsider_sees_their_own_organisation_not_ours(journey, personas, client_for):
    response = client_for(personas.outsider).get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Rival Widgets plc" in html
    assert response.context["readiness"].frameworks == []
    assert "Cyber Essentials control" not in html
    assert "Acme Bakery" not in html


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    response = client_for(None).get("/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_the_dashboard_only_answers_get(owner_browser):
    assert owner_browser.post("/").status_code == 405


# --- Queries stay the same whatever the size ------------------------------------------------------
def grow(personas, *, frameworks: int, answers: int, tasks: int) -> None:
    """An organisation well into its plan, with `answers` answers spread over `frameworks` frameworks."""
    organisation = personas.organisation
    profiled(organisation)
    per_framework = -(-answers // frameworks)
    controls, adopted = [], []
    for number in range(frameworks):
        framework, made = adopt(
            organisation, f"Framework {number}", [1 + n % 5 for n in range(per_framework)], auto_fail=1
        )
        controls.extend(made)
        adopted.append(framework)
    statuses = [AnswerStatus.IMPLEMENTED, AnswerStatus.PARTIAL, AnswerStatus.NOT_IMPLEMENTED]
    current = services.round_current(organisation=organisation)
    for index, control in enumerate(controls[:answers]):
        AnswerFactory(organisation=organisation, round=current, control=control, status=statuses[index % 3])
    today = timezone.localdate()
    for index in range(tasks):
        PlanTaskFactory(
            organisation=organisation, owner=personas.member, due_date=today + timedelta(days=index % 20 - 5)
        )
    for _ in range(tasks):
        AuditEventFactory(organisation=organisation, actor=personas.member)
    now = timezone.now()
    for framework in [*adopted, None]:
        for day in range(0, 90, 10):
            ReadinessSnapshotFactory(
                organisation=organisation, framework=framework, score=day, taken_at=now - timedelta(days=day)
            )


@pytest.mark.parametrize(("frameworks", "answers", "tasks"), [(1, 10, 5), (6, 200, 50)])
@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_dashboard_queries_do_not_grow_with_the_data(
    personas, client_for, django_assert_num_queries, frameworks, answers, tasks, role
):
    grow(personas, frameworks=frameworks, answers=answers, tasks=tasks)
    browser = client_for(getattr(personas, role))
    browser.get("/")

    # + readiness (adoptions, profile, controls, answers, mappings), the top gaps' and failing controls'
    #   models, the next task, snapshots, tasks due, and recent activity (not for viewers)
    expected = REQUEST_BASELINE + 10 - (1 if role == "viewer" else 0)
    with django_assert_num_queries(expected):
        response = browser.get("/")
    assert response.status_code == 200
    assert next_step(response).key == "task"
    assert len(response.context["cards"]) == frameworks


def test_welcome_page_queries(owner_browser, django_assert_num_queries):
    # + readiness's adoptions and profile (nothing adopted: no controls to read)
    with django_assert_num_queries(REQUEST_BASELINE + 2):
        assert owner_browser.get("/").status_code == 200
