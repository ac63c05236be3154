from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.audit import Actor
from accounts.models import AuditEvent
from assessments import selectors, services
from assessments.models import Answer, AnswerStatus, AssessmentRound, BusinessProfile, CardHandling
from compliance.models import Relationship
from compliance.tests.factories import ControlFactory, ControlGroupFactory, ControlMappingFactory, FrameworkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def library():
    """Two frameworks: A (controls a1 weight 3, a2 weight 1 auto-fail, a3 only with card payments) and B (b1),
    with a1 equal to b1."""
    a, b = FrameworkFactory(slug="fw-a", name="Framework A"), FrameworkFactory(slug="fw-b", name="Framework B")
    group_a, group_b = ControlGroupFactory(framework=a), ControlGroupFactory(framework=b)
    controls = {
        "a1": ControlFactory(group=group_a, ref="A1", weight=3),
        "a2": ControlFactory(group=group_a, ref="A2", weight=1, auto_fail=True),
        "a3": ControlFactory(group=group_a, ref="A3", weight=2, applies_if=["card_payments"]),
        "b1": ControlFactory(group=group_b, ref="B1", weight=2),
    }
    ControlMappingFactory(source=controls["a1"], target=controls["b1"], relationship=Relationship.EQUAL)
    return a, b, controls


@pytest.fixture
def adopted(personas, library):
    a, b, controls = library
    actor = Actor(user=personas.owner)
    services.framework_adopt(organisation=personas.organisation, framework=a, target_date=None, actor=actor)
    services.framework_adopt(organisation=personas.organisation, framework=b, target_date=None, actor=actor)
    return personas.organisation, actor, controls


def test_answer_save_creates_then_updates_and_audits(adopted):
    organisation, actor, controls = adopted
    first = services.answer_save(
        organisation=organisation, control=controls["a1"], status=AnswerStatus.PARTIAL, actor=actor
    )
    assert first.changed
    second = services.answer_save(
        organisation=organisation,
        control=controls["a1"],
        status=AnswerStatus.IMPLEMENTED,
        actor=actor,
        expected_version=1,
    )
    assert second.answer.version == 2
    assert not second.overwrote
    actions = list(AuditEvent.objects.filter(organisation=organisation).values_list("action", flat=True))
    assert actions.count("answer.created") == 1
    assert actions.count("answer.updated") == 1


def test_saving_the_same_answer_twice_changes_nothing(adopted):
    organisation, actor, controls = adopted
    services.answer_save(organisation=organisation, control=controls["a1"], status=AnswerStatus.PARTIAL, actor=actor)
    again = services.answer_save(
        organisation=organisation, control=controls["a1"], status=AnswerStatus.PARTIAL, actor=actor
    )
    assert not again.changed
    assert Answer.objects.get().version == 1


def test_losing_the_race_for_a_controls_first_answer_updates_the_winners_answer_instead_of_failing(adopted, personas):
    # Two people answer a control at the same moment: both saw no answer, the other's insert landed first.
    organisation, actor, controls = adopted
    winner = services.answer_save(
        organisation=organisation, control=controls["a1"], status=AnswerStatus.PARTIAL, actor=Actor(personas.member)
    ).answer
    late = Answer(
        organisation=organisation,
        round=winner.round,
        control=controls["a1"],
        status=AnswerStatus.IMPLEMENTED,
        updated_by=actor.user,
    )

    answer, created = services._create_first_answer(late)

    assert (answer.pk, created) == (winner.pk, False)
    assert Answer.objects.filter(control=controls["a1"]).count() == 1


def test_a_stale_form_still_wins_but_says_what_it_replaced(adopted, personas):
    organisation, actor, controls = adopted
    services.answer_save(organisation=organisation, control=controls["a1"], status=AnswerStatus.PARTIAL, actor=actor)
    services.answer_save(
        organisation=organisation,
        control=controls["a1"],
        status=AnswerStatus.IMPLEMENTED,
        actor=Actor(user=personas.admin),
        expected_version=1,
    )
    result = services.answer_save(
        organisation=organisation,
        control=controls["a1"],
        status=AnswerStatus.NOT_IMPLEMENTED,
        actor=actor,
        expected_version=1,
    )
    assert result.overwrote == "admin@acme.example had answered implemented"
    event = AuditEvent.objects.filter(action="answer.updated").order_by("-id").first()
    assert "replacing a newer answer: admin@acme.example had answered implemented" in event.summary


def test_not_applicable_needs_a_justification(adopted):
    organisation, actor, controls = adopted
    with pytest.raises(ValidationError, match="Say why"):
        services.answer_save(
            organisation=organisation, control=controls["a1"], status=AnswerStatus.NOT_APPLICABLE, actor=actor
        )
    services.answer_save(
        organisation=organisation,
        control=controls["a1"],
        status=AnswerStatus.NOT_APPLICABLE,
        justification="We have no servers of our own.",
        actor=actor,
    )


def test_combined_mode_applies_the_answer_to_mapped_controls_without_overwriting_own_answers(adopted):
    organisation, actor, controls = adopted
    result = services.answer_save(
        organisation=organisation,
        control=controls["a1"],
        status=AnswerStatus.IMPLEMENTED,
        actor=actor,
        apply_to_mapped=True,
    )
    assert [c.ref for c in result.applied_to] == ["B1"]
    applied = Answer.objects.get(control=controls["b1"])
    assert (applied.status, applied.via_control_id) == (AnswerStatus.IMPLEMENTED, controls["a1"].pk)
    services.answer_save(organisation=organisation, control=controls["b1"], status=AnswerStatus.PARTIAL, actor=actor)
    services.answer_save(
        organisation=organisation,
        control=controls["a1"],
        status=AnswerStatus.NOT_IMPLEMENTED,
        actor=actor,
        apply_to_mapped=True,
    )
    assert Answer.objects.get(control=controls["b1"]).status == AnswerStatus.PARTIAL


def test_readiness_counts_mapped_answers_profile_applicability_and_auto_fail(adopted, django_assert_num_queries):
    organisation, actor, controls = adopted
    BusinessProfile.objects.create(organisation=organisation, card_handling=CardHandling.NONE)
    services.answer_save(
        organisation=organisation, control=controls["a1"], status=AnswerStatus.IMPLEMENTED, actor=actor
    )
    with django_assert_num_queries(5):
        readiness = selectors.readiness_for(organisation)
    a = readiness.frameworks[0].score
    # a3 needs card payments (ruled out); a1 (3) implemented, a2 (1) unanswered: 75%, and a2 is auto-fail.
    assert (a.percent, a.would_fail, a.applicable) == (Decimal("75.0"), True, 2)
    assert readiness.excluded_by_profile[controls["a3"].pk] == ["card_payments"]
    b = readiness.frameworks[1].score
    assert b.percent == Decimal("100.0")  # B1 counts through its equal mapping to A1
    assert readiness.states[controls["b1"].pk].via_control_id == controls["a1"].pk
    assert readiness.overall == Decimal("87.5")


def test_gaps_put_auto_fail_first_then_impact(adopted):
    organisation, _actor, controls = adopted
    gaps = selectors.gaps_for(selectors.readiness_for(organisation))
    assert gaps[0].control == controls["a2"]  # auto-fail
    assert gaps[1].control in (controls["a1"], controls["b1"])  # weight and one mapped control each
    assert gaps[1].mapped_count == 1


def test_a_new_round_keeps_the_old_answers_and_carries_them_over(adopted):
    organisation, actor, controls = adopted
    services.answer_save(organisation=organisation, control=controls["a1"], status=AnswerStatus.PARTIAL, actor=actor)
    old = selectors.open_round(organisation)
    new = services.round_start(organisation=organisation, name="Spring 2027", actor=actor)
    old.refresh_from_db()
    assert old.closed_at is not None
    assert AssessmentRound.objects.filter(organisation=organisation, closed_at__isnull=True).get() == new
    assert Answer.objects.get(round=new).status == AnswerStatus.PARTIAL
    services.answer_save(
        organisation=organisation, control=controls["a1"], status=AnswerStatus.IMPLEMENTED, actor=actor
    )
    assert Answer.objects.get(round=old).status == AnswerStatus.PARTIAL


def test_adopting_a_framework_with_a_past_target_is_refused(personas, library):
    from datetime import date

    a, _b, _controls = library
    with pytest.raises(ValidationError, match="future"):
        services.framework_adopt(
            organisation=personas.organisation,
            framework=a,
            target_date=date(2020, 1, 1),
            actor=Actor(user=personas.owner),
        )


def test_a_published_policy_lifts_the_controls_it_covers(adopted, personas, django_assert_num_queries):
    from django.utils import timezone

    from policies.models import PolicyStatus
    from policies.tests.factories import PolicyFactory, PolicyVersionFactory

    organisation, _actor, controls = adopted
    policy = PolicyFactory(organisation=organisation, status=PolicyStatus.PUBLISHED)
    policy.controls.set([controls["a1"]])
    draft = PolicyFactory(organisation=organisation, title="Draft only")
    draft.controls.set([controls["a2"]])
    PolicyVersionFactory(organisation=organisation, policy=draft)
    before = selectors.readiness_for(organisation).frameworks[0].score.percent
    assert before == Decimal("0.0")
    PolicyVersionFactory(organisation=organisation, policy=policy, published_at=timezone.now())
    with django_assert_num_queries(5):
        readiness = selectors.readiness_for(organisation)
    score = readiness.frameworks[0].score
    # No profile, so a3 applies too. a1 (weight 3) counts as partial from the policy; a2 (weight 1) has
    # only a draft policy and a3 (weight 2) none: 1.5 of 6.
    assert score.percent == Decimal("25.0")
    assert readiness.states[controls["a1"].pk].via_policy
    policy.status = PolicyStatus.RETIRED
    policy.save()
    assert selectors.readiness_for(organisation).frameworks[0].score.percent == Decimal("0.0")


def test_current_evidence_backs_implemented_answers(adopted, personas, django_assert_num_queries):
    from datetime import date, timedelta

    from evidence.models import EvidenceStatus
    from evidence.tests.factories import EvidenceFactory

    organisation, actor, controls = adopted
    for key in ("a1", "a2", "a3"):
        services.answer_save(
            organisation=organisation, control=controls[key], status=AnswerStatus.IMPLEMENTED, actor=actor
        )
    assert selectors.readiness_for(organisation).frameworks[0].score.percent == Decimal("100.0")
    # Keeping evidence at all brings the rule in: a1 (weight 3) is backed, a2 and a3 (weights 1 and 2)
    # are not: (3 + 0.75 × 3) of 6 = 87.5%.
    backed = EvidenceFactory(organisation=organisation, status=EvidenceStatus.ACCEPTED)
    backed.controls.set([controls["a1"]])
    with django_assert_num_queries(5):
        readiness = selectors.readiness_for(organisation)
    assert readiness.frameworks[0].score.percent == Decimal("87.5")
    # Expired, rejected, draft and out-of-date evidence does not back anything.
    today = date.today()
    for status, valid_until in (
        (EvidenceStatus.EXPIRED, today + timedelta(days=5)),
        (EvidenceStatus.REJECTED, today + timedelta(days=5)),
        (EvidenceStatus.DRAFT, today + timedelta(days=5)),
        (EvidenceStatus.ACCEPTED, today - timedelta(days=1)),
    ):
        EvidenceFactory(organisation=organisation, status=status, valid_until=valid_until).controls.set(
            [controls["a2"], controls["a3"]]
        )
    assert selectors.readiness_for(organisation).frameworks[0].score.percent == Decimal("87.5")
    # Submitted evidence within its date counts.
    EvidenceFactory(organisation=organisation, status=EvidenceStatus.SUBMITTED).controls.set([controls["a3"]])
    assert selectors.readiness_for(organisation).frameworks[0].score.percent == Decimal("95.8")
    # Another organisation's evidence never counts here.
    EvidenceFactory(status=EvidenceStatus.ACCEPTED).controls.set([controls["a2"]])
    assert selectors.readiness_for(organisation).frameworks[0].score.percent == Decimal("95.8")
