"""Readiness: the one place the formula lives. Pure functions over plain data, no database.

For each framework, over the controls that apply to the business and can be assessed:

    readiness = 100 × Σ(weight × credit) ÷ Σ(weight)

where credit is 1 for implemented, 0.5 for partially implemented and 0 for not implemented or not
yet answered. Controls answered "not applicable" (with a justification) or ruled out by the
business profile are left out of both sums. A control without an answer of its own takes the best
answer of a control that covers it through a mapping (equal, or the other control is a superset),
so one answer counts everywhere it should. A control still without an answer that a published
policy of the organisation covers counts as partially implemented: the rule is written down, its
practice not yet confirmed. Once the organisation keeps evidence (any item, of any status), a control
claimed implemented without current evidence (submitted or accepted, within its valid-until date, on
the control or on the control its answer came through) earns 0.75 instead of 1: the claim is not yet
backed, or its evidence has expired. Bands: green from 80, amber from 50, red below.
A framework "would fail" while any applicable auto-fail control is not fully implemented
(Cyber Essentials' MFA and 14-day update rules), whatever the percentage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

IMPLEMENTED, PARTIAL, NOT_IMPLEMENTED, NOT_APPLICABLE = "implemented", "partial", "not_implemented", "not_applicable"
CREDIT: dict[str | None, Decimal] = {
    IMPLEMENTED: Decimal(1),
    PARTIAL: Decimal("0.5"),
    NOT_IMPLEMENTED: Decimal(0),
    None: Decimal(0),
}
GREEN_FROM, AMBER_FROM = Decimal(80), Decimal(50)
# What "implemented" earns without current evidence, once the organisation keeps evidence at all.
UNEVIDENCED_CREDIT = Decimal("0.75")


@dataclass(frozen=True)
class ControlState:
    control_id: int
    framework_id: int
    group_id: int
    weight: int
    auto_fail: bool = False
    applicable: bool = True  # by the business profile
    status: str | None = None  # the control's own answer
    via_control_id: int | None = None  # set by effective_states when the status came through a mapping
    policy_in_force: bool = False  # a published policy of the organisation covers this control
    via_policy: bool = False  # set by effective_states when the status comes from that policy
    # None: the organisation keeps no evidence yet, so evidence is not considered. Otherwise whether
    # current evidence backs the control (or the control its answer came through).
    evidence_current: bool | None = None


@dataclass(frozen=True)
class Contribution:
    """What one control adds to its framework's score, in points out of 100, so anyone can check it."""

    control_id: int
    weight: int
    status: str | None
    credit: Decimal
    earned: Decimal
    possible: Decimal
    via_control_id: int | None = None
    auto_fail: bool = False
    via_policy: bool = False
    unevidenced: bool = False  # implemented, but earning UNEVIDENCED_CREDIT for want of current evidence

    @property
    def lost(self) -> Decimal:
        return self.possible - self.earned


@dataclass
class Score:
    percent: Decimal
    band: str
    would_fail: bool
    applicable: int
    answered: int
    implemented: int
    contributions: list[Contribution] = field(default_factory=list)
    failing_controls: list[int] = field(default_factory=list)


def band_for(percent: Decimal) -> str:
    if percent >= GREEN_FROM:
        return "green"
    if percent >= AMBER_FROM:
        return "amber"
    return "red"


def _rank(status: str | None) -> Decimal:
    return CREDIT.get(status, Decimal(0))


def effective_states(states: Iterable[ControlState], covered_by: dict[int, set[int]]) -> list[ControlState]:
    """Fill unanswered controls from the best answer of a control that covers them.

    `covered_by[a]` holds the controls whose implementation also implements `a`. A control answered
    "not applicable" never passes that on: it says nothing about the other control.
    """
    states = list(states)
    by_id = {state.control_id: state for state in states}
    filled: list[ControlState] = []
    for state in states:
        if state.status is not None:
            filled.append(state)
            continue
        best: ControlState | None = None
        for other_id in covered_by.get(state.control_id, ()):
            other = by_id.get(other_id)
            if other is None or other.status in (None, NOT_APPLICABLE):
                continue
            if best is None or _rank(other.status) > _rank(best.status):
                best = other
        if best is None and state.policy_in_force:
            filled.append(ControlState(**{**state.__dict__, "status": PARTIAL, "via_policy": True}))
        elif best is None:
            filled.append(state)
        else:
            evidence = state.evidence_current
            if evidence is not None:
                evidence = evidence or bool(best.evidence_current)
            filled.append(
                ControlState(
                    **{
                        **state.__dict__,
                        "status": best.status,
                        "via_control_id": best.control_id,
                        "evidence_current": evidence,
                    }
                )
            )
    return filled


def _quantise(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def score(states: Iterable[ControlState]) -> Score:
    """Readiness for one set of controls (a framework, or a group within it)."""
    counted = [s for s in states if s.applicable and s.status != NOT_APPLICABLE]
    total_weight = sum(s.weight for s in counted)
    contributions: list[Contribution] = []
    earned_total = Decimal(0)
    # Weights run from 1 to 5 and there are four statuses, so the Decimal arithmetic is done once per
    # (weight, status) and not once per control: the figures are the same, a framework of 500 controls
    # is scored in a fraction of the time.
    worked_out: dict[tuple[int, str | None, bool], tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    for state in counted:
        unevidenced = state.status == IMPLEMENTED and state.evidence_current is False
        key = (state.weight, state.status, unevidenced)
        figures = worked_out.get(key)
        if figures is None:
            credit = UNEVIDENCED_CREDIT if unevidenced else _rank(state.status)
            possible = Decimal(100) * state.weight / total_weight if total_weight else Decimal(0)
            earned = possible * credit
            figures = worked_out[key] = (credit, earned, _quantise(earned), _quantise(possible))
        credit, earned, earned_shown, possible_shown = figures
        earned_total += earned
        contributions.append(
            Contribution(
                control_id=state.control_id,
                weight=state.weight,
                status=state.status,
                credit=credit,
                earned=earned_shown,
                possible=possible_shown,
                via_control_id=state.via_control_id,
                auto_fail=state.auto_fail,
                via_policy=state.via_policy,
                unevidenced=unevidenced,
            )
        )
    percent = _quantise(earned_total) if total_weight else Decimal(0)
    failing = [s.control_id for s in counted if s.auto_fail and s.status != IMPLEMENTED]
    return Score(
        percent=percent,
        band=band_for(percent),
        would_fail=bool(failing),
        applicable=len(counted),
        answered=sum(1 for s in counted if s.status is not None),
        implemented=sum(1 for s in counted if s.status == IMPLEMENTED),
        contributions=sorted(contributions, key=lambda c: (-(c.possible - c.earned), c.control_id)),
        failing_controls=failing,
    )


def score_by(states: Iterable[ControlState], key: str) -> dict[int, Score]:
    """Scores per framework (`key="framework_id"`) or per group (`key="group_id"`)."""
    grouped: dict[int, list[ControlState]] = {}
    for state in states:
        grouped.setdefault(getattr(state, key), []).append(state)
    return {group: score(members) for group, members in grouped.items()}


def overall(scores: Iterable[Score]) -> Decimal:
    """The mean of the frameworks' percentages: each adopted framework counts the same."""
    values = [s.percent for s in scores if s.applicable]
    return _quantise(sum(values, Decimal(0)) / len(values)) if values else Decimal(0)
