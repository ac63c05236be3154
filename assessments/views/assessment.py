"""The assessment: the open round, one page per adopted framework, a combined mode that asks each
mapped question once, and the autosave endpoint they all post to.

Every page reads the organisation's readiness once (`selectors.readiness_for`) and shapes it into
`ControlItem`s in memory, so the number of queries does not grow with the number of controls.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Organisation
from accounts.roles import Capability
from accounts.selectors import organisation_members
from assessments import selectors, services
from assessments.access import get_adopted_framework_for, get_assessable_control_for
from assessments.facts import control_applies, profile_facts
from assessments.forms_assessment import STATUS_FILTERS, AnswerForm, AssessmentFilterForm, RoundStartForm
from assessments.models import AnswerStatus, FrameworkAdoption
from assessments.views.answer_items import ControlItem, Covered, FormContext, Members, overwrite_notice
from compliance.models import Control, ControlGroup, Question
from config.pages import render_page, wants_fragment
from evidence.embeds import answer_evidence_line, evidence_counts_by_control

NOT_FOR_YOU = (
    "This control does not apply to your business, going by your business profile, so it needs no answer. "
    "If that has changed, update your business profile first."
)


@dataclass
class Progress:
    answered: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.answered >= self.total


@dataclass
class Block:
    """A heading and its controls: a group on a framework's page, a framework in combined mode."""

    key: str
    heading: str
    ref: str
    items: list[ControlItem] = field(default_factory=list)


def _form_context(request: HttpRequest, *, query_string: str = "") -> FormContext:
    return FormContext(
        can_edit=require_membership(request).can(Capability.EDIT),
        csrf_input=format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)),
        query_string=query_string,
    )


# --- Shaping readiness into items -------------------------------------------------------------------
def _values(answer: selectors.AnswerDetail | None) -> dict[str, Any]:
    if answer is None:
        return {"status": "", "notes": "", "justification": "", "owner_id": None, "version": 0}
    return {
        "status": answer.status,
        "notes": answer.notes,
        "justification": answer.justification,
        "owner_id": answer.owner_id,
        "version": answer.version,
    }


def _posted_values(form: AnswerForm) -> dict[str, Any]:
    data = form.data
    try:
        owner_id: int | None = int(data.get("owner", ""))
    except ValueError:
        owner_id = None
    try:
        version = int(data.get("version", "0"))
    except ValueError:
        version = 0
    return {
        "status": data.get("status", ""),
        "notes": data.get("notes", ""),
        "justification": data.get("justification", ""),
        "owner_id": owner_id,
        "version": version,
    }


def _shown_controls(
    readiness: selectors.Readiness,
    ids: list[int],
    *,
    framework_id: int | None = None,
    extra: tuple[Control, ...] = (),
) -> tuple[dict[int, Control], dict[int, Control]]:
    """The models of the controls a page shows (`ids`, in that order; a framework's by `framework_id`)
    and of the controls their answers came through, in one query with their groups in another, as
    (shown, vias). Controls passed in `extra` are not read again."""
    known = {control.pk: control for control in extra}
    vias = {via for pk in ids if (via := readiness.via_id(pk))}
    loaded = readiness.load_controls(
        [pk for pk in ids if pk not in known and framework_id is None]
        + [pk for pk in vias if pk not in known and pk not in ids],
        framework_id=framework_id,
        groups=True,
    )
    loaded.update(known)
    return {pk: loaded[pk] for pk in ids}, {pk: loaded[pk] for pk in vias if pk in loaded}


def _questions_by_control(control_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    questions = Question.objects.live().filter(control_id__in=control_ids).order_by("position")
    for control_id, text, help_text in questions.values_list("control_id", "text", "help_text"):
        found[control_id].append((text, help_text))
    return found


def _members(organisation: Organisation) -> Members:
    return Members(
        [
            (user_id, full_name or email)
            for user_id, full_name, email in organisation_members(organisation).values_list(
                "user_id", "user__full_name", "user__email"
            )
        ]
    )


def _item(
    readiness: selectors.Readiness,
    control: Control,
    *,
    answers: dict[int, selectors.AnswerDetail],
    questions: dict[int, list[tuple[str, str]]],
    vias: dict[int, Control],
    members: Members,
) -> ControlItem:
    answer = answers.get(control.pk)
    state = readiness.states.get(control.pk)
    via_id = readiness.via_id(control.pk)
    return ControlItem(
        control=control,
        questions=questions.get(control.pk, []),
        answer=answer,
        status=state.status if state else (answer.status if answer else None),
        via=vias.get(via_id) if via_id else None,
        via_policy=bool(state and state.via_policy),
        excluded_facts=readiness.excluded_by_profile.get(control.pk, []),
        updated_by=members.by_id.get(answer.updated_by_id, "") if answer and answer.updated_by_id else "",
        values=_values(answer),
        members=members,
    )


def _attach_evidence(organisation: Organisation, items: list[ControlItem]) -> None:
    """The "2 pieces of evidence · Add" line under each shown answer: one query for the whole page."""
    counts = evidence_counts_by_control(organisation, [item.pk for item in items])
    for item in items:
        item.evidence_line = answer_evidence_line(
            item.pk, counts, can_edit=item.form.can_edit, control_ref=item.control.ref
        )


def progress_for(readiness: selectors.Readiness, framework_id: int) -> Progress:
    """Answered (the control's own answer or a covering control's, not applicable included) of the
    controls that apply to the business."""
    answered = total = 0
    for pk in readiness.framework_control_ids(framework_id):
        if pk in readiness.excluded_by_profile:
            continue
        total += 1
        answered += bool(readiness.states[pk].status)
    return Progress(answered=answered, total=total)


def _matches(item: ControlItem, status: str) -> bool:
    if status == "unanswered":
        return not item.excluded and item.status is None
    if status == AnswerStatus.NOT_APPLICABLE:
        return item.excluded or item.status == AnswerStatus.NOT_APPLICABLE
    return not item.excluded and item.status == status


def _group_blocks(items: list[ControlItem]) -> list[Block]:
    blocks: dict[int, Block] = {}
    for item in items:
        group: ControlGroup = item.control.group
        if group.pk not in blocks:
            blocks[group.pk] = Block(key=f"group-{group.pk}", heading=group.title, ref=group.ref)
        blocks[group.pk].items.append(item)
    return list(blocks.values())


def _framework_context(
    request: HttpRequest,
    adoption: FrameworkAdoption,
    readiness: selectors.Readiness,
    *,
    override: ControlItem | None = None,
) -> dict[str, Any]:
    organisation = require_membership(request).organisation
    framework = adoption.framework
    ids = readiness.framework_control_ids(framework.pk)
    controls, vias = _shown_controls(readiness, ids, framework_id=framework.pk)
    answers = readiness.load_answers(ids)
    questions = _questions_by_control(ids)
    members = _members(organisation)
    items = [
        override
        if override is not None and override.pk == control.pk
        else _item(readiness, control, answers=answers, questions=questions, vias=vias, members=members)
        for control in controls.values()
    ]
    groups = {item.control.group.ref: f"{item.control.group.ref} {item.control.group.title}" for item in items}
    filters = AssessmentFilterForm(
        request.GET,
        groups=list(groups.items()),
        counts={key: sum(1 for item in items if _matches(item, key)) for key in STATUS_FILTERS},
    )
    chosen = filters.chosen
    shown = [
        item
        for item in items
        if (not chosen.get("status") or _matches(item, chosen["status"]))
        and (not chosen.get("group") or item.control.group.ref == chosen["group"])
    ]
    form = _form_context(request, query_string=urlencode(chosen))
    for item in items:
        item.form = form
    _attach_evidence(organisation, shown)
    return {
        "adoption": adoption,
        "framework": framework,
        "readiness": readiness.for_framework(framework.pk),
        "progress": progress_for(readiness, framework.pk),
        "blocks": _group_blocks(shown),
        "shown_count": len(shown),
        "total_count": len(items),
        "filters": filters,
        "chosen": chosen,
        "query_string": urlencode(chosen),
        "resume": next((item for item in items if not item.excluded and item.status is None), None),
        "answered_any": any(item.status for item in items),
    }


# --- Combined mode --------------------------------------------------------------------------------
def _covering(readiness: selectors.Readiness) -> dict[int, set[int]]:
    """covers[a] = the adopted controls that implementing `a` also implements: the same reading of
    the mappings as `services.covered_controls`, which applies a combined answer (the inverse of
    readiness's `covered_by`)."""
    covers: dict[int, set[int]] = defaultdict(set)
    for covered, by in readiness.covered_by.items():
        for other in by:
            covers[other].add(covered)
    return covers


def _combined_shape(readiness: selectors.Readiness, covers: dict[int, set[int]]) -> list[tuple[int, list[int]]]:
    """The questions to ask, as (control asked, controls its answer also counts for), in library order.

    Controls that cover the most others lead; each control they cover is asked no more, and is listed
    under "Also answers" (under every lead that covers it)."""
    order = {pk: index for index, pk in enumerate(readiness.states)}
    applicable = [pk for pk in readiness.states if pk not in readiness.excluded_by_profile]
    applicable_set = set(applicable)
    leads = sorted(applicable, key=lambda pk: (-len(covers.get(pk, set()) & applicable_set), order[pk]))
    taken: set[int] = set()
    shape: list[tuple[int, list[int]]] = []
    for pk in leads:
        if pk in taken:
            continue
        # Every control the answer counts for is listed (as the service applies it to all of them); a
        # control already listed under another question is simply not asked again.
        covered = sorted(covers.get(pk, set()) & applicable_set, key=order.__getitem__)
        taken.add(pk)
        taken.update(covered)
        shape.append((pk, covered))
    return sorted(shape, key=lambda question: order[question[0]])


def _covered(
    readiness: selectors.Readiness, lead: int, covered: list[int], controls: dict[int, Control]
) -> list[Covered]:
    return [
        Covered(
            controls[other],
            answered_separately=bool((answer := readiness.answers.get(other)) and answer.via_control_id != lead),
        )
        for other in covered
    ]


def _combined_items(
    readiness: selectors.Readiness,
    shape: list[tuple[int, list[int]]],
    *,
    controls: dict[int, Control],
    answers: dict[int, selectors.AnswerDetail],
    questions: dict[int, list[tuple[str, str]]],
    vias: dict[int, Control],
    members: Members,
) -> list[ControlItem]:
    items: list[ControlItem] = []
    for pk, covered in shape:
        item = _item(readiness, controls[pk], answers=answers, questions=questions, vias=vias, members=members)
        item.combined = True
        item.covers = _covered(readiness, pk, covered, controls)
        items.append(item)
    return items


def _framework_blocks(items: list[ControlItem]) -> list[Block]:
    blocks: dict[int, Block] = {}
    for item in items:
        framework = item.control.framework
        if framework.pk not in blocks:
            blocks[framework.pk] = Block(key=f"framework-{framework.pk}", heading=framework.name, ref="")
        blocks[framework.pk].items.append(item)
    return list(blocks.values())


def _combined_context(
    request: HttpRequest, readiness: selectors.Readiness, *, override: ControlItem | None = None
) -> dict[str, Any]:
    organisation = require_membership(request).organisation
    ids = list(readiness.states)
    controls, vias = _shown_controls(readiness, ids)
    shape = _combined_shape(readiness, _covering(readiness))
    items = _combined_items(
        readiness,
        shape,
        controls=controls,
        answers=readiness.load_answers(ids),
        questions=_questions_by_control([pk for pk, _covered in shape]),
        vias=vias,
        members=_members(organisation),
    )
    if override is not None:
        items = [_with_covers(override, item) if item.pk == override.pk else item for item in items]
    form = _form_context(request)
    for item in items:
        item.form = form
    _attach_evidence(organisation, items)
    return {
        "blocks": _framework_blocks(items),
        "progress": _combined_progress(readiness, shape),
        "question_count": len(items),
        "control_count": len(ids) - len(readiness.excluded_by_profile),
        "excluded_count": len(readiness.excluded_by_profile),
        "frameworks": readiness.frameworks,
        "resume": next((item for item in items if item.status is None), None),
        "answered_any": any(item.status for item in items),
    }


def _combined_progress(readiness: selectors.Readiness, shape: list[tuple[int, list[int]]]) -> Progress:
    return Progress(answered=sum(1 for pk, _covered in shape if readiness.states[pk].status), total=len(shape))


def _with_covers(item: ControlItem, shaped: ControlItem) -> ControlItem:
    item.combined = True
    item.covers = shaped.covers
    return item


# --- Pages ----------------------------------------------------------------------------------------
@require_GET
@member_required()
def assessment(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    readiness = selectors.readiness_for(organisation)
    rounds = list(selectors.rounds_for(organisation).annotate(answer_count=Count("answers")))
    return render_page(
        request,
        "assessments/assessment.html",
        {
            "readiness": readiness,
            "rows": [
                (framework, progress_for(readiness, framework.adoption.framework_id))
                for framework in readiness.frameworks
            ],
            "current_round": next((r for r in rounds if r.is_open), None),
            "earlier_rounds": [r for r in rounds if not r.is_open],
            "round_form": RoundStartForm(),
        },
    )


@require_GET
@member_required()
def assessment_framework(request: HttpRequest, framework_slug: str) -> HttpResponse:
    adoption = get_adopted_framework_for(request, framework_slug)
    readiness = selectors.readiness_for(require_membership(request).organisation)
    return render_page(
        request,
        "assessments/assessment_framework.html",
        _framework_context(request, adoption, readiness),
        fragment="controls",
    )


@require_GET
@member_required()
def assessment_combined(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    readiness = selectors.readiness_for(organisation)
    return render_page(request, "assessments/assessment_combined.html", _combined_context(request, readiness))


@require_POST
@member_required(Capability.EDIT)
def round_start(request: HttpRequest) -> HttpResponse:
    form = RoundStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Keep the round's name to 120 characters or fewer.")
        return redirect("assessment")
    new_round = services.round_start(
        organisation=require_membership(request).organisation,
        name=form.cleaned_data["name"],
        actor=Actor.from_request(request),
    )
    messages.success(
        request, f"Started “{new_round.name}”. Your answers carried over, and the previous round is kept as it was."
    )
    return redirect("assessment")


# --- Saving an answer -----------------------------------------------------------------------------
def _back_to(control: Control, *, combined: bool, query: str) -> str:
    """Where a browser without JavaScript returns after saving: the same page, filters and control."""
    if combined:
        return f"{reverse('assessment_combined')}#control-{control.pk}"
    kept = QueryDict(query)
    filters = {name: kept.get(name, "") for name in ("status", "group") if kept.get(name)}
    url = reverse("assessment_framework", args=[control.framework.slug])
    return f"{url}{'?' + urlencode(filters) if filters else ''}#control-{control.pk}"


def _overwrote_someone_else(request: HttpRequest, overwrote: str) -> str:
    """The overwrite notice, unless the answer replaced was this person's own (two quick autosaves)."""
    email = getattr(request.user, "email", "")
    return "" if not overwrote or overwrote.startswith(f"{email} ") else overwrote


@require_POST
@member_required()
def answer_save(request: HttpRequest, control_id: int) -> HttpResponse:
    control = get_assessable_control_for(request, control_id, write=True)
    organisation = require_membership(request).organisation
    form = AnswerForm(request.POST, organisation=organisation)
    combined = request.POST.get("apply_to_mapped") == "1"
    result: services.AnswerResult | None = None
    if form.is_valid():
        facts = profile_facts(selectors.profile_for(organisation))
        if not control_applies(control.applies_if, facts):
            form.add_error(None, NOT_FOR_YOU)
        else:
            data = form.cleaned_data
            try:
                result = services.answer_save(
                    organisation=organisation,
                    control=control,
                    status=data["status"],
                    actor=Actor.from_request(request),
                    notes=data["notes"],
                    justification=data["justification"],
                    owner=data["owner"],
                    expected_version=data["version"],
                    apply_to_mapped=data["apply_to_mapped"],
                )
            except ValidationError as error:
                form.add_error(None, error)
    overwrote = _overwrote_someone_else(request, result.overwrote) if result else ""
    htmx = wants_fragment(request)

    if result is not None and not htmx:
        messages.success(request, f"Saved your answer to {control.framework.name} {control.ref}.")
        if overwrote:
            messages.warning(request, overwrite_notice(overwrote))
        return redirect(_back_to(control, combined=combined, query=request.POST.get("filters", "")))

    readiness = selectors.readiness_for(organisation)
    members = _members(organisation)
    # In combined mode, the shape of the questions: which controls this answer counts for.
    shape = _combined_shape(readiness, _covering(readiness)) if combined else []
    covered = next((others for pk, others in shape if pk == control.pk), [])
    shown, vias = _shown_controls(readiness, [control.pk, *covered], extra=(control,))
    item = _item(
        readiness,
        control,
        answers=readiness.load_answers([control.pk]),
        questions=_questions_by_control([control.pk]),
        vias=vias,
        members=members,
    )
    item.combined = combined
    item.covers = _covered(readiness, control.pk, covered, shown)
    if result is None:
        item.values = _posted_values(form)
        item.errors.update({name: [str(error) for error in errors] for name, errors in form.errors.items()})
    else:
        item.saved, item.overwrote, item.applied_to = True, overwrote, result.applied_to
    status = 200 if htmx or result is not None else 400

    if not htmx:
        # Without JavaScript, show the whole page again with the problem in place.
        if combined:
            context = _combined_context(request, readiness, override=item)
            return render_page(request, "assessments/assessment_combined.html", context, status=status)
        adoption = next(f.adoption for f in readiness.frameworks if f.adoption.framework_id == control.framework_id)
        context = _framework_context(request, adoption, readiness, override=item)
        return render_page(request, "assessments/assessment_framework.html", context, status=status)

    item.form = _form_context(request, query_string=request.POST.get("filters", ""))
    _attach_evidence(organisation, [item])
    progress = _combined_progress(readiness, shape) if combined else progress_for(readiness, control.framework_id)
    context = {"item": item, "progress": progress, "noun": "questions" if combined else "controls"}
    framework_readiness = None if combined else readiness.for_framework(control.framework_id)
    if framework_readiness is not None:
        # The framework page shows its score beside the progress bar: both move with each answer.
        context["framework_score"] = framework_readiness.score
    return render(request, "assessments/includes/answer_saved.html", context, status=status)
