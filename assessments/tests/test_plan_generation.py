"""services.plan_generate: the plan's order, joined tasks, effort and due dates are worked out by code."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditEvent
from assessments import services
from assessments.models import AnswerStatus, Effort, PlanTask, Priority, TaskStatus
from assessments.tests.factories import AnswerFactory, FrameworkAdoptionFactory, PlanTaskFactory
from compliance.models import Relationship
from compliance.tests.factories import (
    ControlFactory,
    ControlGroupFactory,
    ControlMappingFactory,
    FrameworkFactory,
    QuestionFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 22)


@pytest.fixture
def organisation(personas):
    return personas.organisation


@pytest.fixture
def actor(personas):
    return Actor(user=personas.owner)


def adopt(organisation, slug: str, *, target: date | None = None, position: int = 1):
    framework = FrameworkFactory(slug=slug, name=slug.title(), position=position)
    FrameworkAdoptionFactory(organisation=organisation, framework=framework, target_date=target)
    return framework, ControlGroupFactory(framework=framework)


def control(group, ref: str, *, weight: int = 3, questions: int = 0, auto_fail: bool = False, position: int = 0):
    made = ControlFactory(
        group=group,
        framework=group.framework,
        ref=ref,
        title=f"Control {ref}",
        weight=weight,
        auto_fail=auto_fail,
        position=position,
        description=f"What {ref} means.",
    )
    for number in range(questions):
        QuestionFactory(control=made, key=f"q{number}", position=number)
    return made


def refs(task: PlanTask) -> list[str]:
    return sorted(c.ref for c in task.controls.all())


def generate(organisation, actor, today: date = TODAY) -> list[PlanTask]:
    return services.plan_generate(organisation=organisation, actor=actor, today=today)


# --- Order ----------------------------------------------------------------------------------------
def test_auto_fail_first_then_by_priority_with_quick_wins_first(organisation, actor):
    _framework, group = adopt(organisation, "essentials")
    control(group, "low", weight=1, position=1)
    control(group, "big-high", weight=5, questions=5, position=2)
    control(group, "medium", weight=3, position=3)
    control(group, "auto", weight=1, questions=6, auto_fail=True, position=4)
    control(group, "quick-high", weight=5, questions=1, position=5)

    tasks = generate(organisation, actor)

    assert [refs(task)[0] for task in tasks] == ["auto", "quick-high", "big-high", "medium", "low"]
    assert [task.priority for task in tasks] == [
        Priority.CRITICAL,
        Priority.HIGH,
        Priority.HIGH,
        Priority.MEDIUM,
        Priority.LOW,
    ]
    assert [task.position for task in tasks] == [0, 1, 2, 3, 4]


def test_within_a_priority_and_effort_the_bigger_impact_comes_first(organisation, actor):
    _essentials, group = adopt(organisation, "essentials")
    _other, other_group = adopt(organisation, "other", position=2)
    control(group, "alone", weight=4, position=1)
    mapped = control(group, "mapped", weight=4, position=2)
    partner = control(other_group, "partner", weight=1)
    # Mostly implemented, so the partner's own gap costs little: 100 × 1 ÷ 6 points.
    AnswerFactory(
        organisation=organisation,
        round=services.round_current(organisation=organisation),
        control=control(other_group, "filler", weight=5),
        status=AnswerStatus.IMPLEMENTED,
    )
    ControlMappingFactory(source=mapped, target=partner, relationship=Relationship.INTERSECT)

    tasks = generate(organisation, actor)

    assert [refs(task) for task in tasks] == [["mapped", "partner"], ["alone"]]


# --- Joining mapped gaps ----------------------------------------------------------------------------
def test_mapped_gaps_are_joined_into_one_task(organisation, actor):
    _essentials, group = adopt(organisation, "essentials")
    _standard, standard_group = adopt(organisation, "standard", position=2)
    mfa = control(group, "mfa", weight=5)
    access = control(standard_group, "access", weight=3)
    ControlMappingFactory(source=mfa, target=access, relationship=Relationship.EQUAL)

    tasks = generate(organisation, actor)

    assert len(tasks) == 1
    assert refs(tasks[0]) == ["access", "mfa"]
    assert tasks[0].title == "Essentials mfa: Control mfa"
    assert tasks[0].description == "What mfa means. Also closes Standard access."


def test_a_mapped_control_already_implemented_is_not_joined(organisation, actor):
    _essentials, group = adopt(organisation, "essentials")
    _standard, standard_group = adopt(organisation, "standard", position=2)
    mfa = control(group, "mfa", weight=5)
    access = control(standard_group, "access", weight=3)
    ControlMappingFactory(source=mfa, target=access, relationship=Relationship.INTERSECT)
    AnswerFactory(
        organisation=organisation,
        round=services.round_current(organisation=organisation),
        control=access,
        status=AnswerStatus.IMPLEMENTED,
    )

    tasks = generate(organisation, actor)

    assert [refs(task) for task in tasks] == [["mfa"]]


# --- Effort ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("questions", "effort"),
    [(0, Effort.SMALL), (2, Effort.SMALL), (3, Effort.MEDIUM), (4, Effort.MEDIUM), (5, Effort.LARGE)],
)
def test_effort_grows_with_the_questions_a_control_asks(organisation, actor, questions, effort):
    _framework, group = adopt(organisation, "essentials")
    control(group, "sized", questions=questions)

    (task,) = generate(organisation, actor)

    assert task.effort == effort


def test_retired_questions_do_not_count_towards_effort(organisation, actor):
    _framework, group = adopt(organisation, "essentials")
    sized = control(group, "sized", questions=3)
    sized.questions.filter(key="q0").update(retired_at=timezone.now())

    (task,) = generate(organisation, actor)

    assert task.effort == Effort.SMALL


# --- Due dates ------------------------------------------------------------------------------------
def test_due_dates_follow_one_another_by_effort(organisation, actor):
    _framework, group = adopt(organisation, "essentials")
    control(group, "first", weight=5, questions=0, position=1)  # small: 3 days
    control(group, "second", weight=5, questions=3, position=2)  # medium: 10 more
    control(group, "third", weight=5, questions=5, position=3)  # large: 25 more

    tasks = generate(organisation, actor)

    assert [task.due_date for task in tasks] == [
        TODAY + timedelta(days=3),
        TODAY + timedelta(days=13),
        TODAY + timedelta(days=38),
    ]


def test_due_dates_never_pass_the_frameworks_target(organisation, actor):
    target = TODAY + timedelta(days=12)
    _framework, group = adopt(organisation, "essentials", target=target)
    for number in range(4):
        control(group, f"c{number}", weight=5, questions=3, position=number)

    tasks = generate(organisation, actor)

    assert [task.due_date for task in tasks] == [TODAY + timedelta(days=10), target, target, target]


def test_each_framework_keeps_to_its_own_target(organisation, actor):
    close = TODAY + timedelta(days=5)
    _essentials, group = adopt(organisation, "essentials", target=close)
    _later, later_group = adopt(organisation, "later", position=2)
    control(group, "urgent", weight=5, questions=3)
    control(later_group, "relaxed", weight=5, questions=3)

    tasks = {refs(task)[0]: task for task in generate(organisation, actor)}

    assert tasks["urgent"].due_date == close
    assert tasks["relaxed"].due_date == TODAY + timedelta(days=20)


# --- Running again --------------------------------------------------------------------------------
def test_gaps_with_an_open_task_are_left_alone(organisation, actor):
    _framework, group = adopt(organisation, "essentials")
    planned = control(group, "planned")
    finished = control(group, "finished")
    control(group, "new")
    PlanTaskFactory(organisation=organisation, status=TaskStatus.DOING).controls.set([planned])
    PlanTaskFactory(organisation=organisation, status=TaskStatus.DONE).controls.set([finished])

    tasks = generate(organisation, actor)

    assert sorted(refs(task)[0] for task in tasks) == ["finished", "new"]
    assert [task.position for task in tasks] == [2, 3]  # after the two tasks already there


def test_nothing_to_plan_adds_nothing_and_records_nothing(organisation, actor):
    _framework, group = adopt(organisation, "essentials")
    done = control(group, "done")
    AnswerFactory(
        organisation=organisation,
        round=services.round_current(organisation=organisation),
        control=done,
        status=AnswerStatus.IMPLEMENTED,
    )

    assert generate(organisation, actor) == []
    assert not AuditEvent.objects.filter(action="plan.generated").exists()


def test_generating_records_one_audit_event(organisation, actor):
    _framework, group = adopt(organisation, "essentials")
    control(group, "one")
    control(group, "two")

    generate(organisation, actor)

    event = AuditEvent.objects.get(organisation=organisation, action="plan.generated")
    assert event.summary == "Built 2 tasks from the gap analysis"
    assert event.actor == actor.user
