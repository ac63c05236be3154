"""The readiness formula against examples worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from assessments.scoring import (
    IMPLEMENTED,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    PARTIAL,
    UNEVIDENCED_CREDIT,
    ControlState,
    band_for,
    effective_states,
    overall,
    score,
    score_by,
)


def state(control_id: int, weight: int, status: str | None, **extra: object) -> ControlState:
    return ControlState(
        control_id=control_id, framework_id=1, group_id=extra.pop("group", 1), weight=weight, status=status, **extra
    )  # type: ignore[arg-type]


def test_implemented_partial_and_not_implemented_weighted():
    # weights 3, 1, 2 -> possible 6; earned 3×1 + 1×0.5 + 2×0 = 3.5 -> 58.3%
    result = score([state(1, 3, IMPLEMENTED), state(2, 1, PARTIAL), state(3, 2, NOT_IMPLEMENTED)])
    assert result.percent == Decimal("58.3")
    assert result.band == "amber"
    assert (result.applicable, result.answered, result.implemented) == (3, 3, 1)


def test_not_applicable_is_left_out_of_both_sums():
    # Without the N/A control: weights 2 and 2, one implemented -> 50%
    result = score([state(1, 2, IMPLEMENTED), state(2, 2, None), state(3, 5, NOT_APPLICABLE)])
    assert result.percent == Decimal("50.0")
    assert result.applicable == 2


def test_controls_ruled_out_by_the_profile_do_not_count():
    result = score([state(1, 4, IMPLEMENTED), state(2, 4, None, applicable=False)])
    assert result.percent == Decimal("100.0")
    assert result.band == "green"


def test_unanswered_counts_as_nothing_yet():
    result = score([state(1, 1, None), state(2, 1, None)])
    assert result.percent == Decimal("0.0")
    assert result.answered == 0


def test_contributions_add_up_to_the_score_and_show_points_lost():
    result = score([state(1, 1, IMPLEMENTED), state(2, 3, PARTIAL)])
    # possible: 25 and 75 points; earned 25 and 37.5 -> 62.5%
    by_id = {c.control_id: c for c in result.contributions}
    assert (by_id[1].possible, by_id[1].earned) == (Decimal("25.0"), Decimal("25.0"))
    assert (by_id[2].possible, by_id[2].earned, by_id[2].lost) == (Decimal("75.0"), Decimal("37.5"), Decimal("37.5"))
    assert result.percent == Decimal("62.5")
    assert result.contributions[0].control_id == 2  # costliest first


def test_auto_fail_control_not_met_means_would_fail_whatever_the_percentage():
    states = [state(i, 1, IMPLEMENTED) for i in range(1, 20)] + [state(20, 1, PARTIAL, auto_fail=True)]
    result = score(states)
    assert result.percent == Decimal("97.5")
    assert result.band == "green"
    assert result.would_fail is True
    assert result.failing_controls == [20]


def test_auto_fail_control_that_does_not_apply_cannot_fail():
    result = score([state(1, 1, IMPLEMENTED), state(2, 5, None, auto_fail=True, applicable=False)])
    assert result.would_fail is False


def test_an_unanswered_control_takes_the_best_answer_of_a_control_that_covers_it():
    # 2 is covered by 10 (partial) and 11 (implemented): it counts as implemented, via 11.
    states = [state(2, 1, None), state(10, 1, PARTIAL), state(11, 1, IMPLEMENTED)]
    filled = {s.control_id: s for s in effective_states(states, {2: {10, 11}})}
    assert filled[2].status == IMPLEMENTED
    assert filled[2].via_control_id == 11


def test_an_own_answer_beats_a_mapped_one_and_not_applicable_is_not_passed_on():
    states = [state(2, 1, NOT_IMPLEMENTED), state(3, 1, None), state(10, 1, IMPLEMENTED), state(11, 1, NOT_APPLICABLE)]
    filled = {s.control_id: s for s in effective_states(states, {2: {10}, 3: {11}})}
    assert filled[2].status == NOT_IMPLEMENTED
    assert filled[3].status is None


def test_mapped_answer_counts_in_the_score():
    # Framework with controls 1 and 2 (weight 1 each); 2 is unanswered but covered by 9 (implemented).
    states = effective_states([state(1, 1, None), state(2, 1, None), state(9, 1, IMPLEMENTED)], {2: {9}})
    framework = [s for s in states if s.control_id in (1, 2)]
    assert score(framework).percent == Decimal("50.0")


def test_scores_per_group_and_overall():
    states = [state(1, 1, IMPLEMENTED, group=7), state(2, 1, NOT_IMPLEMENTED, group=8)]
    groups = score_by(states, "group_id")
    assert groups[7].percent == Decimal("100.0")
    assert groups[8].percent == Decimal("0.0")
    assert overall([groups[7], groups[8]]) == Decimal("50.0")


def test_bands():
    assert band_for(Decimal("80")) == "green"
    assert band_for(Decimal("79.9")) == "amber"
    assert band_for(Decimal("50")) == "amber"
    assert band_for(Decimal("49.9")) == "red"


def test_nothing_to_count_scores_zero_without_dividing_by_zero():
    result = score([state(1, 3, NOT_APPLICABLE)])
    assert (result.percent, result.applicable, result.would_fail) == (Decimal("0"), 0, False)


def test_a_published_policy_counts_as_partly_implemented_until_answered():
    states = [state(1, 1, None, policy_in_force=True), state(2, 1, NOT_IMPLEMENTED, policy_in_force=True)]
    filled = {s.control_id: s for s in effective_states(states, {})}
    assert (filled[1].status, filled[1].via_policy) == (PARTIAL, True)
    assert filled[2].status == NOT_IMPLEMENTED  # an own answer always wins
    assert score(filled.values()).percent == Decimal("25.0")


def test_a_mapped_answer_beats_a_policy():
    states = [state(1, 1, None, policy_in_force=True), state(9, 1, IMPLEMENTED)]
    filled = {s.control_id: s for s in effective_states(states, {1: {9}})}
    assert (filled[1].status, filled[1].via_policy) == (IMPLEMENTED, False)


def test_implemented_without_current_evidence_earns_less_once_evidence_is_kept():
    # weights 2 and 2: one backed by current evidence (1 × 2), one not (0.75 × 2) -> 3.5 of 4 = 87.5%
    states = [state(1, 2, IMPLEMENTED, evidence_current=True), state(2, 2, IMPLEMENTED, evidence_current=False)]
    result = score(effective_states(states, {}))
    assert result.percent == Decimal("87.5")
    by_control = {c.control_id: c for c in result.contributions}
    assert (by_control[1].credit, by_control[1].unevidenced) == (Decimal(1), False)
    assert (by_control[2].credit, by_control[2].unevidenced) == (UNEVIDENCED_CREDIT, True)
    assert result.implemented == 2  # still implemented: the auto-fail rule and counts are unchanged


def test_evidence_is_not_considered_until_the_organisation_keeps_any():
    result = score([state(1, 2, IMPLEMENTED, evidence_current=None), state(2, 2, IMPLEMENTED)])
    assert result.percent == Decimal("100.0")


def test_evidence_only_changes_implemented_credit():
    states = [state(1, 1, PARTIAL, evidence_current=False), state(2, 1, NOT_IMPLEMENTED, evidence_current=True)]
    assert score(states).percent == Decimal("25.0")


def test_evidence_on_the_covering_control_backs_a_mapped_answer():
    states = [state(1, 1, None, evidence_current=False), state(9, 1, IMPLEMENTED, evidence_current=True)]
    filled = {s.control_id: s for s in effective_states(states, {1: {9}})}
    assert filled[1].evidence_current is True
    assert score([filled[1]]).percent == Decimal("100.0")
    unbacked = [state(1, 1, None, evidence_current=False), state(9, 1, IMPLEMENTED, evidence_current=False)]
    filled = {s.control_id: s for s in effective_states(unbacked, {1: {9}})}
    assert score([filled[1]]).percent == Decimal("75.0")
