"""The implementation plan through its pages: list, board, my tasks, building from gaps, a task's page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from accounts.audit import Actor
from accounts.models import AuditEvent
from accounts.tests.factories import UserFactory
from assessments import services
from assessments.models import AnswerStatus, FrameworkAdoption, PlanTask, Priority, TaskStatus
from assessments.tests.factories import PlanTaskFactory
from assessments.tests.test_readiness_views import build_world
from compliance.tests.factories import ControlFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REQUEST_BASELINE = 3  # session, user, memberships
TODAY = timezone.localdate()


@pytest.fixture
def owner_browser(personas, client_for):
    browser = client_for(personas.owner)
    browser.get("/plan/")  # settle the session's current organisation
    return browser


@pytest.fixture
def world(personas):
    return build_world(personas.organisation)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def task(personas, **values) -> PlanTask:
    return PlanTaskFactory(organisation=personas.organisation, **values)


# --- The list -------------------------------------------------------------------------------------
def test_plan_lists_tasks_with_due_dates_written_out(personas, owner_browser):
    task(personas, title="Turn on MFA", due_date=date(2026, 12, 21), owner=personas.member, priority=Priority.HIGH)

    page = text_of(owner_browser.get("/plan/"))

    assert "Turn on MFA" in page
    assert '<time class="task-due" datetime="2026-12-21">21 December 2026</time>' in page
    assert escape(personas.member.display_name) in page
    assert "High" in page


def test_overdue_tasks_are_badged_and_listed_first(personas, owner_browser):
    task(personas, title="Critical but later", priority=Priority.CRITICAL, due_date=TODAY + timedelta(days=5))
    task(personas, title="Low and late", priority=Priority.LOW, due_date=TODAY - timedelta(days=2))
    task(personas, title="Late but done", status=TaskStatus.DONE, due_date=TODAY - timedelta(days=9))

    response = owner_browser.get("/plan/")

    assert [t.title for t in response.context["tasks"]] == ["Low and late", "Critical but later", "Late but done"]
    page = text_of(response)
    assert page.count('<span class="badge badge-danger">Overdue</span>') == 1
    assert '<tr class="task-overdue">' in page
    assert "1 overdue" in page


def test_my_tasks_shows_only_mine(personas, owner_browser):
    task(personas, title="Mine to do", owner=personas.owner)
    task(personas, title="Someone else's", owner=personas.member)
    task(personas, title="Nobody's")

    response = owner_browser.get("/plan/?mine=1")

    assert [t.title for t in response.context["tasks"]] == ["Mine to do"]
    assert "of yours" in text_of(response)


def test_status_filter_swaps_only_the_list_for_htmx(personas, owner_browser):
    task(personas, title="Still to do")
    task(personas, title="Finished", status=TaskStatus.DONE)

    response = owner_browser.get("/plan/?status=done", **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="plan-results"')
    assert "Finished" in body
    assert "Still to do" not in body


def test_filter_with_no_match_says_so(personas, owner_browser):
    task(personas, title="Someone else's", owner=personas.member)

    assert "No tasks match" in text_of(owner_browser.get("/plan/?mine=1"))


def test_plan_without_frameworks_points_to_recommendations(personas, owner_browser):
    page = text_of(owner_browser.get("/plan/"))

    assert "Nothing planned yet" in page
    assert 'href="/recommendations/"' in page
    assert "Build plan from gaps" not in page


def test_plan_explains_how_it_is_built_and_offers_to_build(world, owner_browser):
    page = text_of(owner_browser.get("/plan/"))

    assert "Build plan from gaps</button>" in page
    assert "Auto-fail gaps come first" in page
    assert "quick wins come first" in page
    assert "never after the framework\N{RIGHT SINGLE QUOTATION MARK}s target date" in page
    assert f"Essentials {world.target:%-d %B %Y}" in page


def test_viewer_sees_the_plan_without_edit_controls(world, personas, client_for):
    task(personas, title="Read only", due_date=TODAY)

    page = text_of(client_for(personas.viewer).get("/plan/?view=board"))

    assert "Read only" in page
    assert "Build plan from gaps</button>" not in page
    assert "Add a task yourself" not in page
    assert 'name="move"' not in page


# --- The board ------------------------------------------------------------------------------------
def test_board_has_three_columns_of_cards(personas, owner_browser):
    task(personas, title="Waiting", owner=personas.member, due_date=TODAY + timedelta(days=3))
    task(
        personas,
        title="Under way",
        status=TaskStatus.DOING,
        priority=Priority.CRITICAL,
        due_date=TODAY - timedelta(days=1),
    )
    task(personas, title="Finished", status=TaskStatus.DONE)

    response = owner_browser.get("/plan/?view=board")

    columns = {column["label"]: [t.title for t in column["tasks"]] for column in response.context["columns"]}
    assert columns == {"To do": ["Waiting"], "Doing": ["Under way"], "Done": ["Finished"]}
    page = text_of(response)
    assert 'id="board-list-todo"' in page
    assert 'id="board-list-doing"' in page
    assert 'id="board-list-done"' in page
    overdue_card = r'class="task-card task-overdue" id="task-card-\d+"> <a class="task-card-title" [^>]*>Under way'
    assert re.search(overdue_card, page)
    # Names from the factory may hold an apostrophe (O'Sullivan), which the page escapes.
    assert f"Owner: {escape(personas.member.display_name)}" in page
    assert "Critical" in page


def test_moving_a_card_swaps_it_into_its_new_column(personas, owner_browser):
    card = task(personas, title="Start me")

    response = owner_browser.post(f"/plan/tasks/{card.pk}/update/", {"move": "1", "status": "doing"}, **HTMX)

    assert response.status_code == 200
    card.refresh_from_db()
    assert card.status == TaskStatus.DOING
    body = text_of(response)
    assert body.lstrip().startswith('<ol hx-swap-oob="afterbegin:#board-list-doing">')
    assert f'id="task-card-{card.pk}"' in body
    assert "Moved “Start me” to Doing." in body
    assert AuditEvent.objects.filter(action="task.updated", summary="Moved the task “Start me” to Doing").exists()


def test_moving_a_card_to_done_offers_to_update_its_controls(world, personas, owner_browser):
    card = task(personas, title="Turn on MFA", status=TaskStatus.DOING)
    card.controls.set([world.mfa])

    body = text_of(owner_browser.post(f"/plan/tasks/{card.pk}/update/", {"move": "1", "status": "done"}, **HTMX))

    assert f'href="/plan/tasks/{card.pk}/#update-answers">Mark its controls implemented</a>' in body
    card.refresh_from_db()
    assert card.completed_at is not None


def test_moving_a_card_without_javascript_returns_to_the_board(personas, owner_browser):
    card = task(personas, title="Start me")

    response = owner_browser.post(f"/plan/tasks/{card.pk}/update/", {"move": "1", "status": "done", "mine": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/plan/?view=board&mine=1"


def test_moving_a_card_to_an_unknown_status_changes_nothing(personas, owner_browser):
    card = task(personas, title="Start me")

    response = owner_browser.post(f"/plan/tasks/{card.pk}/update/", {"move": "1", "status": "archived"})

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == TaskStatus.TODO


# --- Building the plan from the gaps ---------------------------------------------------------------
def test_building_the_plan_creates_tasks_from_the_gaps_once(world, personas, owner_browser):
    response = owner_browser.post("/plan/generate/")

    assert response.status_code == 302
    assert response["Location"] == "/plan/"
    tasks = list(PlanTask.objects.filter(organisation=personas.organisation).order_by("position"))
    # mfa (auto-fail) first; logging and firewall are mapped, so one task closes both.
    assert [sorted(c.ref for c in t.controls.all()) for t in tasks] == [["mfa"], ["firewall", "logging"]]
    assert tasks[0].priority == Priority.CRITICAL
    assert all(t.origin == "generated" for t in tasks)
    assert all(t.due_date is not None and t.due_date > TODAY for t in tasks)
    essentials_tasks = [t for t in tasks if any(c.framework_id == world.essentials.pk for c in t.controls.all())]
    assert all(t.due_date <= world.target for t in essentials_tasks)
    assert AuditEvent.objects.filter(organisation=personas.organisation, action="plan.generated").count() == 1

    again = owner_browser.post("/plan/generate/", follow=True)

    assert PlanTask.objects.filter(organisation=personas.organisation).count() == 2
    assert "Nothing new to add" in again.content.decode()


def test_building_again_adds_only_new_gaps(world, personas, owner_browser):
    owner_browser.post("/plan/generate/")
    services.answer_save(
        organisation=personas.organisation,
        control=world.backups,
        status=AnswerStatus.PARTIAL,
        actor=Actor(user=personas.owner),
    )

    response = owner_browser.post("/plan/generate/", follow=True)

    tasks = PlanTask.objects.filter(organisation=personas.organisation).order_by("position")
    assert tasks.count() == 3
    assert sorted(c.ref for c in tasks.last().controls.all()) == ["backups", "patching"]
    assert "Added 1 task from your gaps" in response.content.decode()


def test_a_close_target_date_caps_every_due_date(world, personas, owner_browser):
    close = TODAY + timedelta(days=2)
    FrameworkAdoption.objects.filter(organisation=personas.organisation, framework=world.essentials).update(
        target_date=close
    )

    owner_browser.post("/plan/generate/")

    mfa_task = PlanTask.objects.get(organisation=personas.organisation, controls=world.mfa)
    assert mfa_task.due_date == close


def test_building_the_plan_without_frameworks_says_what_to_do_first(personas, owner_browser):
    response = owner_browser.post("/plan/generate/", follow=True)

    assert "Choose the frameworks you are working towards first" in response.content.decode()
    assert not PlanTask.objects.filter(organisation=personas.organisation).exists()


# --- Adding a task by hand ------------------------------------------------------------------------
def test_adding_a_task_by_hand(personas, owner_browser):
    response = owner_browser.post(
        "/plan/tasks/",
        {
            "title": "  Write the backup policy ",
            "description": "One page.",
            "owner": personas.member.pk,
            "due_date": "2026-12-21",
            "priority": "2",
            "effort": "small",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/plan/"
    created = PlanTask.objects.get(organisation=personas.organisation)
    assert (created.title, created.owner, created.due_date, created.priority, created.effort, created.origin) == (
        "Write the backup policy",
        personas.member,
        date(2026, 12, 21),
        Priority.HIGH,
        "small",
        "manual",
    )
    assert AuditEvent.objects.filter(action="task.created", summary="Added the task “Write the backup policy”").exists()


def test_adding_a_task_without_a_title_shows_the_form_again(world, personas, owner_browser):
    response = owner_browser.post("/plan/tasks/", {"title": " ", "priority": "3", "effort": "medium"})

    assert response.status_code == 200
    assert response.context["create_open"] is True
    assert "title" in response.context["create_form"].errors
    assert '<details class="card plan-add" open>' in response.content.decode()
    assert not PlanTask.objects.exists()


def test_a_task_owner_must_be_in_the_organisation(personas, owner_browser):
    response = owner_browser.post(
        "/plan/tasks/", {"title": "Mine", "priority": "3", "effort": "medium", "owner": personas.outsider.pk}
    )

    assert response.status_code == 200
    assert "owner" in response.context["create_form"].errors
    assert not PlanTask.objects.exists()


# --- A task's page --------------------------------------------------------------------------------
def test_task_page_links_its_controls_to_the_library_and_the_assessment(world, personas, owner_browser):
    page_task = task(personas, title="Turn on MFA")
    page_task.controls.set([world.mfa, world.backups])

    page = text_of(owner_browser.get(f"/plan/tasks/{page_task.pk}/"))

    assert 'href="/frameworks/essentials/controls/mfa/"' in page
    assert f'href="/assessment/essentials/#control-{world.mfa.pk}"' in page
    assert f'href="/assessment/standard/#control-{world.backups.pk}"' in page
    assert "Essentials · partially implemented" in page
    assert f'action="/plan/tasks/{page_task.pk}/update/"' in page
    assert "update-answers" not in page  # not done yet


def test_editing_a_task_saves_it_with_an_audit_event(personas, owner_browser):
    edited = task(personas, title="Old title")

    response = owner_browser.post(
        f"/plan/tasks/{edited.pk}/update/",
        {
            "title": "New title",
            "description": "",
            "owner": personas.admin.pk,
            "due_date": "2026-12-01",
            "priority": "1",
            "effort": "large",
            "status": "doing",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/plan/tasks/{edited.pk}/"
    edited.refresh_from_db()
    assert (edited.title, edited.owner, edited.due_date, edited.priority, edited.effort, edited.status) == (
        "New title",
        personas.admin,
        date(2026, 12, 1),
        Priority.CRITICAL,
        "large",
        TaskStatus.DOING,
    )
    assert AuditEvent.objects.filter(action="task.updated", summary="Moved the task “New title” to Doing").exists()


def test_editing_a_task_with_a_bad_value_shows_the_errors_and_changes_nothing(personas, owner_browser):
    edited = task(personas, title="Keep me")

    response = owner_browser.post(
        f"/plan/tasks/{edited.pk}/update/",
        {
            "title": "",
            "priority": "9",
            "effort": "medium",
            "status": "todo",
        },
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "priority"}
    edited.refresh_from_db()
    assert edited.title == "Keep me"
    assert not AuditEvent.objects.filter(action="task.updated").exists()


def test_completing_a_task_offers_to_mark_its_controls_implemented(world, personas, owner_browser):
    done = task(personas, title="Turn on MFA", status=TaskStatus.DOING)
    done.controls.set([world.mfa, world.backups])

    response = owner_browser.post(
        f"/plan/tasks/{done.pk}/update/",
        {
            "title": "Turn on MFA",
            "priority": "1",
            "effort": "small",
            "status": "done",
        },
    )

    assert response["Location"] == f"/plan/tasks/{done.pk}/#update-answers"
    done.refresh_from_db()
    assert done.status == TaskStatus.DONE
    assert done.completed_at is not None
    assert AuditEvent.objects.filter(action="task.updated", summary="Moved the task “Turn on MFA” to Done").exists()
    page = text_of(owner_browser.get(response["Location"]))
    offer = page[page.index('id="update-answers"') : page.index('class="two-column"')]
    # mfa is partial: offered; backups is already implemented: not offered.
    assert f'action="/assessment/answers/{world.mfa.pk}/"' in offer
    assert f'action="/assessment/answers/{world.backups.pk}/"' not in offer
    assert '<input type="hidden" name="status" value="implemented">' in offer
    # ... and to attach evidence for the task's first control.
    assert f'href="/evidence/new/?control={world.mfa.pk}">attach evidence</a>' in offer


def test_the_offer_keeps_the_answers_notes_and_owner(world, personas, owner_browser):
    answer = services.answer_save(
        organisation=personas.organisation,
        control=world.firewall,
        status=AnswerStatus.NOT_IMPLEMENTED,
        notes="Router is old",
        owner=personas.member,
        actor=Actor(user=personas.owner),
    ).answer
    done = task(personas, title="Firewall", status=TaskStatus.DONE)
    done.controls.set([world.firewall])

    page = text_of(owner_browser.get(f"/plan/tasks/{done.pk}/"))

    assert '<input type="hidden" name="notes" value="Router is old">' in page
    assert f'<input type="hidden" name="owner" value="{personas.member.pk}">' in page
    assert f'<input type="hidden" name="version" value="{answer.version}">' in page


# --- The view matrix ------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["owner", "admin", "member", "consultant", "viewer"])
def test_every_member_may_read_the_plan_and_its_tasks(personas, client_for, persona):
    shown = task(personas, title="Visible")
    browser = client_for(getattr(personas, persona))

    assert browser.get("/plan/").status_code == 200
    assert browser.get("/plan/?view=board").status_code == 200
    assert browser.get(f"/plan/tasks/{shown.pk}/").status_code == 200


@pytest.mark.parametrize("persona", ["owner", "member", "consultant"])
def test_editors_may_change_tasks(personas, client_for, persona):
    changed = task(personas, title="Move me")

    response = client_for(getattr(personas, persona)).post(
        f"/plan/tasks/{changed.pk}/update/", {"move": "1", "status": "doing"}
    )

    assert response.status_code == 302


def test_viewer_cannot_build_add_or_update(world, personas, client_for):
    kept = task(personas, title="Untouchable")
    browser = client_for(personas.viewer)

    assert browser.post("/plan/generate/").status_code == 403
    assert browser.post("/plan/tasks/", {"title": "Nope", "priority": "3", "effort": "small"}).status_code == 403
    assert browser.post(f"/plan/tasks/{kept.pk}/update/", {"move": "1", "status": "done"}).status_code == 403
    kept.refresh_from_db()
    assert kept.status == TaskStatus.TODO
    assert PlanTask.objects.filter(organisation=personas.organisation).count() == 1


def test_another_organisations_task_is_not_found(personas, client_for):
    theirs = PlanTaskFactory(organisation=personas.other_organisation, title="Rival secret")
    browser = client_for(personas.owner)

    assert browser.get(f"/plan/tasks/{theirs.pk}/").status_code == 404
    assert browser.post(f"/plan/tasks/{theirs.pk}/update/", {"move": "1", "status": "done"}).status_code == 404
    # The viewer learns nothing either: existence is settled before permission.
    assert client_for(personas.viewer).post(f"/plan/tasks/{theirs.pk}/update/", {"move": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TaskStatus.TODO


def test_a_malformed_or_missing_task_id_is_not_found(personas, client_for):
    browser = client_for(personas.owner)

    assert browser.get("/plan/tasks/abc/").status_code == 404
    assert browser.get("/plan/tasks/999999/").status_code == 404


@pytest.mark.parametrize("path", ["/plan/", "/plan/tasks/1/"])
def test_anonymous_visitors_are_sent_to_sign_in(client_for, path):
    response = client_for(None).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_wrong_methods_are_refused(personas, owner_browser):
    shown = task(personas)

    assert owner_browser.post("/plan/").status_code == 405
    assert owner_browser.get("/plan/generate/").status_code == 405
    assert owner_browser.get("/plan/tasks/").status_code == 405
    assert owner_browser.post(f"/plan/tasks/{shown.pk}/").status_code == 405
    assert owner_browser.get(f"/plan/tasks/{shown.pk}/update/").status_code == 405


# --- Pinned query counts --------------------------------------------------------------------------
def grow_plan(personas, count: int) -> None:
    controls = ControlFactory.create_batch(3)
    owners = [personas.owner, personas.member, UserFactory()]
    for number in range(count):
        made = task(
            personas,
            title=f"Task {number}",
            owner=owners[number % 2],
            status=[TaskStatus.TODO, TaskStatus.DOING, TaskStatus.DONE][number % 3],
            due_date=TODAY + timedelta(days=number - count // 2),
        )
        made.controls.set(controls[: number % 3])


# tasks (with how many controls each links), adoptions, members for the owner field of "Add a task"
PLAN_QUERIES = 3


@pytest.mark.parametrize("count", [10, 100])
@pytest.mark.parametrize("query", ["", "?view=board", "?mine=1&status=todo"])
def test_plan_queries_do_not_grow_with_tasks(personas, owner_browser, django_assert_num_queries, count, query):
    grow_plan(personas, count)

    with django_assert_num_queries(REQUEST_BASELINE + PLAN_QUERIES):
        response = owner_browser.get(f"/plan/{query}")
    assert response.status_code == 200


@pytest.mark.parametrize("count", [10, 100])
def test_plan_fragment_queries_do_not_grow_with_tasks(personas, owner_browser, django_assert_num_queries, count):
    grow_plan(personas, count)

    # the list alone: no "Add a task" form, so no members
    with django_assert_num_queries(REQUEST_BASELINE + PLAN_QUERIES - 1):
        owner_browser.get("/plan/?status=doing", **HTMX)


@pytest.mark.parametrize("controls", [1, 30])
def test_task_page_queries_do_not_grow_with_its_controls(personas, owner_browser, django_assert_num_queries, controls):
    shown = task(personas, title="Many controls")
    shown.controls.set(ControlFactory.create_batch(controls))
    services.round_current(organisation=personas.organisation)

    # task, its controls, their frameworks, the open round, the answers, members for the owner field, the
    # evidence on its controls
    with django_assert_num_queries(REQUEST_BASELINE + 7):
        assert owner_browser.get(f"/plan/tasks/{shown.pk}/").status_code == 200


@pytest.mark.parametrize("controls", [1, 20])
def test_card_move_queries_do_not_grow(personas, owner_browser, django_assert_num_queries, controls):
    card = task(personas, title="Move me")
    card.controls.set(ControlFactory.create_batch(controls))

    # the task, its controls and their frameworks; then the service: savepoint, validation of the task's
    # organisation, update, the organisation, the audit event's checks and insert, release
    with django_assert_num_queries(REQUEST_BASELINE + 3 + 8):
        owner_browser.post(f"/plan/tasks/{card.pk}/update/", {"move": "1", "status": "doing"}, **HTMX)
