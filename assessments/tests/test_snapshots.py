"""Readiness snapshots: scheduled once per burst of changes, taken per adopted framework plus overall."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.audit import Actor
from assessments import services
from assessments.models import AnswerStatus, ReadinessSnapshot
from assessments.tasks import take_readiness_snapshot
from assessments.tests.factories import FrameworkAdoptionFactory
from compliance.tests.factories import ControlFactory, ControlGroupFactory, FrameworkFactory

pytestmark = pytest.mark.django_db


def adopted_framework(organisation, name: str, controls: list[tuple[int, bool]]):
    """A framework of controls given as (weight, auto_fail), adopted without scheduling anything."""
    framework = FrameworkFactory(name=name)
    group = ControlGroupFactory(framework=framework)
    made = [ControlFactory(group=group, weight=weight, auto_fail=auto_fail) for weight, auto_fail in controls]
    FrameworkAdoptionFactory(organisation=organisation, framework=framework)
    return framework, made


@pytest.fixture
def acme(personas):
    """Two adopted frameworks, answered so that every figure can be worked out by hand:

    Plan A: weights 3, 1, 2 answered implemented, partial, not implemented -> 3.5 / 6 = 58.3%, amber.
    Plan B: an auto-fail control not implemented and a control implemented, weight 2 each -> 50%, would fail.
    Overall: the mean of 58.3 and 50.0 = 54.15 -> 54.2%, amber, would fail.
    """
    organisation = personas.organisation
    actor = Actor(user=personas.owner)
    plan_a, a_controls = adopted_framework(organisation, "Plan A", [(3, False), (1, False), (2, False)])
    plan_b, b_controls = adopted_framework(organisation, "Plan B", [(2, True), (2, False)])
    answers = [
        (a_controls[0], AnswerStatus.IMPLEMENTED),
        (a_controls[1], AnswerStatus.PARTIAL),
        (a_controls[2], AnswerStatus.NOT_IMPLEMENTED),
        (b_controls[0], AnswerStatus.NOT_IMPLEMENTED),
        (b_controls[1], AnswerStatus.IMPLEMENTED),
    ]
    return organisation, actor, plan_a, plan_b, answers


def test_a_burst_of_answer_changes_schedules_one_snapshot(acme, django_capture_on_commit_callbacks):
    organisation, actor, _a, _b, answers = acme

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for control, status in answers:
            services.answer_save(organisation=organisation, control=control, status=status, actor=actor)
        services.answer_save(organisation=organisation, control=answers[0][0], status=AnswerStatus.PARTIAL, actor=actor)

    assert len(callbacks) == 1
    assert not ReadinessSnapshot.objects.exists()


def test_the_scheduled_snapshot_runs_after_commit_and_covers_the_whole_burst(acme, django_capture_on_commit_callbacks):
    organisation, actor, plan_a, plan_b, answers = acme

    with django_capture_on_commit_callbacks(execute=True):
        for control, status in answers:
            services.answer_save(organisation=organisation, control=control, status=status, actor=actor)

    rows = {row.framework_id: row for row in ReadinessSnapshot.objects.filter(organisation=organisation)}
    assert set(rows) == {plan_a.pk, plan_b.pk, None}
    assert rows[plan_a.pk].score == Decimal("58.3")  # every answer of the burst counted
    assert rows[None].score == Decimal("54.2")


def test_a_change_after_the_snapshot_schedules_another(acme, django_capture_on_commit_callbacks):
    organisation, actor, _a, _b, answers = acme
    with django_capture_on_commit_callbacks(execute=True):
        services.answer_save(organisation=organisation, control=answers[0][0], status=AnswerStatus.PARTIAL, actor=actor)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.answer_save(
            organisation=organisation, control=answers[0][0], status=AnswerStatus.IMPLEMENTED, actor=actor
        )

    assert len(callbacks) == 1
    assert ReadinessSnapshot.objects.filter(organisation=organisation, framework=None).count() == 2


def test_taking_a_snapshot_stores_a_row_per_adopted_framework_and_an_overall_row(acme):
    organisation, actor, plan_a, plan_b, answers = acme
    for control, status in answers:
        services.answer_save(organisation=organisation, control=control, status=status, actor=actor)

    taken = services.snapshot_take(organisation=organisation)

    assert len(taken) == 3
    rows = {row.framework_id: row for row in ReadinessSnapshot.objects.filter(organisation=organisation)}
    a, b, overall = rows[plan_a.pk], rows[plan_b.pk], rows[None]
    assert (a.score, a.band, a.would_fail, a.applicable, a.answered, a.implemented) == (
        Decimal("58.3"),
        "amber",
        False,
        3,
        3,
        1,
    )
    assert (b.score, b.band, b.would_fail, b.applicable, b.answered, b.implemented) == (
        Decimal("50.0"),
        "amber",
        True,
        2,
        2,
        1,
    )
    assert (
        overall.score,
        overall.band,
        overall.would_fail,
        overall.applicable,
        overall.answered,
        overall.implemented,
    ) == (Decimal("54.2"), "amber", True, 5, 5, 2)
    assert len({row.taken_at for row in rows.values()}) == 1  # one moment for the whole set


def test_unanswered_controls_count_as_nothing_in_the_snapshot(acme):
    organisation, _actor, plan_a, _b, _answers = acme

    services.snapshot_take(organisation=organisation)

    row = ReadinessSnapshot.objects.get(organisation=organisation, framework=plan_a)
    assert (row.score, row.band, row.answered) == (Decimal("0.0"), "red", 0)


def test_an_organisation_without_adopted_frameworks_stores_no_snapshot(personas):
    assert services.snapshot_take(organisation=personas.organisation) == []
    assert not ReadinessSnapshot.objects.exists()


def test_snapshots_stay_with_their_organisation(acme, personas):
    organisation, _actor, _a, _b, _answers = acme
    adopted_framework(personas.other_organisation, "Rival plan", [(3, False)])

    services.snapshot_take(organisation=organisation)

    assert not ReadinessSnapshot.objects.filter(organisation=personas.other_organisation).exists()


def test_snapshot_task_counts_the_rows_it_stored(acme):
    organisation, *_rest = acme

    assert take_readiness_snapshot.delay(organisation.pk).get() == 3


def test_snapshot_task_for_an_unknown_organisation_returns_zero(db):
    assert take_readiness_snapshot(987654) == 0
    assert not ReadinessSnapshot.objects.exists()
