"""tasks/ in the API: the plan's tasks, added through `task_create` and changed through `task_update`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.scopes import Scope
from assessments.models import Priority, TaskStatus
from assessments.tests.factories import PlanTaskFactory
from assessments.tests.test_readiness_views import World, build_world
from compliance.tests.factories import ControlFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/organisations/acme-bakery/"
TASKS = f"{BASE}tasks/"


@pytest.fixture
def world(personas) -> World:
    return build_world(personas.organisation)


def session_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def in_days(days: int):
    return timezone.localdate() + timedelta(days=days)


def titles(response) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


# --- Listing --------------------------------------------------------------------------------------
def test_tasks_are_listed_with_owner_controls_and_overdue(world, personas, api_for):
    task = PlanTaskFactory(
        organisation=personas.organisation,
        title="Turn on MFA",
        owner=personas.member,
        due_date=in_days(-1),
        priority=Priority.CRITICAL,
    )
    task.controls.set([world.mfa])
    PlanTaskFactory(organisation=personas.other_organisation)

    response = api_for(personas.organisation, scopes=[Scope.TASKS_READ]).get(TASKS)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["url"] == f"http://testserver{TASKS}{task.pk}/"
    assert row["owner"] == {
        "id": personas.member.pk,
        "name": personas.member.display_name,
        "email": personas.member.email,
    }
    assert (row["status"], row["priority"], row["overdue"]) == ("todo", 1, True)
    assert row["controls"] == [{"id": world.mfa.pk, "framework": "essentials", "ref": "mfa", "title": "Mfa control"}]


def test_an_owner_who_left_is_not_shown(personas, api_for):
    PlanTaskFactory(organisation=personas.organisation, owner=personas.outsider)

    (row,) = api_for(personas.organisation).get(TASKS).json()["results"]

    assert row["owner"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=doing", ["Doing it"]),
        ("owner={member}", ["Doing it"]),
        (f"due_before={(timezone.localdate() + timedelta(days=5)).isoformat()}", ["Due soon"]),
        ("status=done", []),
    ],
)
def test_tasks_are_filtered(personas, api_for, query, expected):
    PlanTaskFactory(
        organisation=personas.organisation, title="Doing it", status=TaskStatus.DOING, owner=personas.member
    )
    PlanTaskFactory(organisation=personas.organisation, title="Due soon", due_date=in_days(2))
    PlanTaskFactory(organisation=personas.organisation, title="Due on the day", due_date=in_days(5))

    response = api_for(personas.organisation).get(f"{TASKS}?{query.format(member=personas.member.pk)}")

    assert titles(response) == expected


def test_a_bad_filter_is_a_400(personas, api_for):
    response = api_for(personas.organisation).get(f"{TASKS}?status=finished")

    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def make_dated_tasks(personas) -> None:
    now = timezone.now()
    for index, (title, due, priority) in enumerate(
        [
            ("No date", None, Priority.LOW),
            ("Next week", in_days(7), Priority.HIGH),
            ("Tomorrow", in_days(1), Priority.MEDIUM),
            ("Also no date", None, Priority.CRITICAL),
            ("Also tomorrow", in_days(1), Priority.HIGH),
        ]
    ):
        PlanTaskFactory(
            organisation=personas.organisation,
            title=title,
            due_date=due,
            priority=priority,
            created_at=now - timedelta(hours=index),
        )


def every_page(client, url: str) -> list[str]:
    seen: list[str] = []
    while url:
        body = client.get(url).json()
        seen += [row["title"] for row in body["results"]]
        url = body["next"]
    return seen


def test_tasks_are_newest_first_by_default(personas, api_for):
    make_dated_tasks(personas)

    assert titles(api_for(personas.organisation).get(TASKS)) == [
        "No date",
        "Next week",
        "Tomorrow",
        "Also no date",
        "Also tomorrow",
    ]


def test_ordering_by_due_date_pages_through_undated_tasks_last(personas, api_for):
    make_dated_tasks(personas)
    client = api_for(personas.organisation)

    ascending = every_page(client, f"{TASKS}?ordering=due_date&page_size=2")
    descending = every_page(client, f"{TASKS}?ordering=-due_date&page_size=2")

    assert ascending[:3] == ["Tomorrow", "Also tomorrow", "Next week"]
    assert sorted(ascending[3:]) == ["Also no date", "No date"]
    assert descending == list(reversed(ascending))


def test_ordering_by_priority_pages_through_ties(personas, api_for):
    make_dated_tasks(personas)

    ordered = every_page(api_for(personas.organisation), f"{TASKS}?ordering=priority&page_size=1")

    assert ordered[0] == "Also no date"
    assert sorted(ordered[1:3]) == ["Also tomorrow", "Next week"]
    assert ordered[3:] == ["Tomorrow", "No date"]


def test_listing_tasks_costs_the_same_for_one_or_many(world, personas, api_for, django_assert_num_queries):
    PlanTaskFactory(organisation=personas.organisation, owner=personas.member).controls.set([world.mfa])
    client = api_for(personas.organisation)
    client.get(TASKS)

    # The key, the members, the tasks with their owners, their controls with their frameworks.
    with django_assert_num_queries(4):
        assert len(client.get(TASKS).json()["results"]) == 1
    for owner in (personas.admin, personas.owner, None, personas.viewer):
        PlanTaskFactory(organisation=personas.organisation, owner=owner).controls.set([world.firewall, world.backups])
    with django_assert_num_queries(4):
        assert len(client.get(TASKS).json()["results"]) == 5


# --- Adding ---------------------------------------------------------------------------------------
def test_adding_a_task_answers_201_with_its_location(world, personas, api_for):
    client = api_for(personas.organisation, scopes=[Scope.TASKS_WRITE])
    payload = {
        "title": "  Turn on multi-factor authentication  ",
        "description": "Start with the admin accounts.",
        "owner": personas.member.pk,
        "due_date": in_days(14).isoformat(),
        "priority": 1,
        "effort": "small",
        "controls": [world.mfa.pk, world.firewall.pk],
    }

    response = client.post(TASKS, payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == body["url"] == f"http://testserver{TASKS}{body['id']}/"
    assert body["title"] == "Turn on multi-factor authentication"
    assert (body["priority"], body["effort"], body["status"], body["origin"]) == (1, "small", "todo", "manual")
    assert body["owner"]["id"] == personas.member.pk
    assert {c["ref"] for c in body["controls"]} == {"mfa", "firewall"}
    assert AuditEvent.objects.filter(action="task.created").count() == 1


def test_a_task_needs_only_a_title(personas, api_for):
    response = api_for(personas.organisation).post(TASKS, {"title": "Write a backup policy"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["priority"], body["effort"], body["owner"], body["controls"]) == (3, "medium", None, [])


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({}, "title", "This field is required."),
        ({"title": "   "}, "title", "Give the task a short title."),
        ({"title": "x" * 301}, "title", "no more than 300"),
        ({"title": "Do it", "priority": 9}, "priority", "is not a valid choice"),
        ({"title": "Do it", "effort": "huge"}, "effort", "is not a valid choice"),
        ({"title": "Do it", "due_date": "soon"}, "due_date", "Date has wrong format"),
        ({"title": "Do it", "owner": "Sam"}, "owner", "Send the owner's user id"),
        ({"title": "Do it", "owner": 2**70}, "owner", "Choose someone in your organisation"),
        ({"title": "Do it", "controls": [2**70]}, "controls", "less than or equal to"),
    ],
)
def test_invalid_tasks_are_refused_field_by_field(personas, api_for, payload, field, message):
    response = api_for(personas.organisation).post(TASKS, payload, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in str(response.json()["errors"][field])
    assert not AuditEvent.objects.filter(action="task.created").exists()


def test_a_task_owner_must_be_a_member(personas, api_for):
    response = api_for(personas.organisation).post(
        TASKS, {"title": "Do it", "owner": personas.outsider.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["owner"] == ["Choose someone in your organisation as the owner."]


def test_a_task_links_only_controls_of_adopted_frameworks(world, personas, api_for):
    elsewhere = ControlFactory()

    response = api_for(personas.organisation).post(
        TASKS, {"title": "Do it", "controls": [world.mfa.pk, elsewhere.pk]}, format="json"
    )

    assert response.status_code == 400
    assert str(elsewhere.pk) in response.json()["errors"]["controls"][0]
    assert not AuditEvent.objects.filter(action="task.created").exists()


def test_a_retried_task_with_the_same_idempotency_key_is_added_once(personas, api_for):
    client = api_for(personas.organisation)
    payload = {"title": "Write a backup policy", "priority": 2}

    first = client.post(TASKS, payload, format="json", HTTP_IDEMPOTENCY_KEY="task-backup-policy")
    second = client.post(TASKS, payload, format="json", HTTP_IDEMPOTENCY_KEY="task-backup-policy")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert second.json() == first.json()
    assert AuditEvent.objects.filter(action="task.created").count() == 1


# --- One task -------------------------------------------------------------------------------------
def test_reading_one_task(world, personas, api_for):
    task = PlanTaskFactory(organisation=personas.organisation)
    task.controls.set([world.backups])

    response = api_for(personas.organisation).get(f"{TASKS}{task.pk}/")

    assert response.status_code == 200
    assert response.json()["controls"][0]["ref"] == "backups"


def test_moving_a_task_to_done_records_when(personas, api_for):
    task = PlanTaskFactory(organisation=personas.organisation, owner=personas.member)

    response = api_for(personas.organisation, scopes=[Scope.TASKS_WRITE]).patch(
        f"{TASKS}{task.pk}/", {"status": "done"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "done"
    assert body["completed_at"] is not None
    assert body["owner"]["id"] == personas.member.pk  # not sent, kept
    assert AuditEvent.objects.get(action="task.updated").summary.endswith("to Done")


def test_changing_owner_due_date_and_priority(personas, api_for):
    task = PlanTaskFactory(organisation=personas.organisation, owner=personas.member)

    response = api_for(personas.organisation).patch(
        f"{TASKS}{task.pk}/",
        {"owner": None, "due_date": in_days(3).isoformat(), "priority": 2},
        format="json",
    )

    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.owner, task.due_date, task.priority) == (None, in_days(3), 2)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"title": ""}, "title"),
        ({"owner": 0}, "owner"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_invalid_changes_are_refused(personas, api_for, payload, field):
    task = PlanTaskFactory(organisation=personas.organisation)

    response = api_for(personas.organisation).patch(f"{TASKS}{task.pk}/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


def test_an_owner_outside_the_organisation_is_refused_on_change(personas, api_for):
    task = PlanTaskFactory(organisation=personas.organisation)

    response = api_for(personas.organisation).patch(
        f"{TASKS}{task.pk}/", {"owner": personas.outsider.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["owner"] == ["Choose someone in your organisation as the owner."]


def test_another_organisations_task_is_not_found(personas, api_for):
    theirs = PlanTaskFactory(organisation=personas.other_organisation)
    client = api_for(personas.organisation)

    assert client.get(f"{TASKS}{theirs.pk}/").status_code == 404
    assert client.patch(f"{TASKS}{theirs.pk}/", {"status": "done"}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TaskStatus.TODO


# --- Who may ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "detail", "scope"),
    [
        ("get", False, Scope.TASKS_READ),
        ("post", False, Scope.TASKS_WRITE),
        ("get", True, Scope.TASKS_READ),
        ("patch", True, Scope.TASKS_WRITE),
    ],
)
def test_each_operation_needs_its_scope(personas, api_for, method, detail, scope):
    task = PlanTaskFactory(organisation=personas.organisation)
    client = api_for(personas.organisation, scopes=set(Scope) - {scope})

    response = getattr(client, method)(
        f"{TASKS}{task.pk}/" if detail else TASKS, {"title": "Sneaky", "status": "done"}, format="json"
    )

    assert response.status_code == 403
    assert str(scope) in response.json()["detail"]
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


def test_without_a_key_the_answer_is_401(personas):
    assert APIClient().get(TASKS).status_code == 401


def test_a_viewer_reads_tasks_but_cannot_add_or_change_them(personas):
    task = PlanTaskFactory(organisation=personas.organisation)
    client = session_for(personas.viewer)

    assert client.get(TASKS).status_code == 200
    assert client.post(TASKS, {"title": "Sneaky"}, format="json").status_code == 403
    assert client.patch(f"{TASKS}{task.pk}/", {"status": "done"}, format="json").status_code == 403
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO
