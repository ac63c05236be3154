"""The assessment: the open round, one page per adopted framework, a combined mode that asks each
mapped question once, and the autosave endpoint they all post to.

Every page reads the organisation's readiness once (`selectors.readiness_for`) and shapes it into
`ControlItem`s in memory, so the number of queries does not grow with the number of controls.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
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
from assessments.models import Answer, AnswerStatus, FrameworkAdoption
from compliance.models import Control, ControlGroup, ControlMapping, Question, Relationship
from config.pages import render_page, wants_fragment

STATUS_LABELS: dict[str, str] = dict(AnswerStatus.choices)
STATUS_BADGES: dict[str | None, str] = {
    AnswerStatus.IMPLEMENTED: "badge-success",
    AnswerStatus.PARTIAL: "badge-warning",
    AnswerStatus.NOT_IMPLEMENTED: "badge-danger",
    AnswerStatus.NOT_APPLICABLE: "badge-muted",
    None: "",
}
ERROR_KEYS = ("__all__", "status", "notes", "justification", "owner", "version")
NOT_FOR_YOU = (
    "This control does not apply to your business, going by your business profile, so it needs no answer. "
    "If that has changed, update your business profile first."
)


# --- What the templates render ----------------------------------------------------------------------
@dataclass
class Covered:
    """A control that an answer in combined mode also counts for."""

    control: Control
    # It has an answer of its own (or from another control), which combined mode leaves alone.
    answered_separately: bool = False


@dataclass
class ControlItem:
    control: Control
    # (text, help text) of each live question
    questions: list[tuple[str, str]] = field(default_factory=list)
    answer: Answer | None = None
    # The status that counts: the control's own answer or, failing that, a covering control's.
    status: str | None = None
    via: Control | None = None
    excluded_facts: list[str] = field(default_factory=list)
    updated_by: str = ""
    combined: bool = False
    covers: list[Covered] = field(default_factory=list)
    # What the form shows: the saved answer, or what was posted when it could not be saved.
    values: dict[str, Any] = field(default_factory=dict)
    # Every field has an entry, so the template's lookups never miss (a missed lookup is slow).
    errors: dict[str, list[str]] = field(default_factory=lambda: {key: [] for key in ERROR_KEYS})
    saved: bool = False
    overwrote: str = ""
    applied_to: list[Control] = field(default_factory=list)

    # What the template needs per control, prepared here: rendering 100+ controls through template
    # lookups and number formatting is what would make the page slow.
    members: list[tuple[int, str]] = field(default_factory=list)

    @property
    def pk(self) -> int:
        return self.control.pk

    @property
    def dom(self) -> str:
        """The control's id as text, for element ids (a plain string skips number localisation)."""
        return str(self.control.pk)

    @property
    def save_url(self) -> str:
        return _answer_save_url(self.control.pk)

    @property
    def guidance_url(self) -> str:
        return _control_url(self.control.framework.slug, self.control.ref)

    # The parts that repeat for every control are built here with plain escaping: through template tags
    # they were a third of the page's time for a framework of 120 controls.
    @property
    def status_radios(self) -> SafeString:
        """The four answers as real radios inside their labels."""
        chosen, dom = self.values.get("status"), self.dom
        return mark_safe(  # noqa: S308 - every value is escaped
            "".join(
                f'<label class="answer-choice answer-choice-{value}" for="c{dom}-{value}"><input type="radio" '
                f'id="c{dom}-{value}" name="status" value="{value}"{" checked" if value == chosen else ""}> '
                f"{escape(label)}</label>"
                for value, label in AnswerStatus.choices
            )
        )

    @property
    def owner_options(self) -> SafeString:
        chosen = self.values.get("owner_id")
        return mark_safe(  # noqa: S308 - every value is escaped
            "".join(
                f'<option value="{user_id}"{" selected" if user_id == chosen else ""}>{escape(name)}</option>'
                for user_id, name in self.members
            )
        )

    @property
    def questions_list(self) -> SafeString:
        return mark_safe(  # noqa: S308 - every value is escaped
            "".join(
                f"<li>{escape(text)}{f' <span class="hint">{escape(hint)}</span>' if hint else ''}</li>"
                for text, hint in self.questions
            )
        )

    @property
    def excluded(self) -> bool:
        return bool(self.excluded_facts)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status or "", "Not answered yet")

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "")

    @property
    def counted_from_mapping(self) -> bool:
        """The status comes from another control: applied in combined mode, or covered by a mapping."""
        return self.via is not None

    @property
    def form_errors(self) -> list[str]:
        stale = ["This page is out of date: reload it and answer again."] if self.errors.get("version") else []
        return self.errors.get("__all__", []) + stale

    @property
    def overwrite_notice(self) -> str:
        return _overwrite_notice(self.overwrote) if self.overwrote else ""


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


@cache
def _url_prefix(name: str, *placeholders: object) -> str:
    """A URL reversed once with placeholder arguments, so 100+ controls do not each go through `reverse`."""
    return reverse(name, args=placeholders)


def _answer_save_url(control_id: int) -> str:
    return f"{_url_prefix('answer_save', 0).removesuffix('0/')}{control_id}/"


def _control_url(framework_slug: str, ref: str) -> str:
    pattern = _url_prefix("control_detail", "framework-placeholder", "control-placeholder")
    return pattern.replace("framework-placeholder", quote(framework_slug)).replace("control-placeholder", quote(ref))


# --- Shaping readiness into items -------------------------------------------------------------------
def _values(answer: Answer | None) -> dict[str, Any]:
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


def _via_id(readiness: selectors.Readiness, control_id: int) -> int | None:
    answer = readiness.answers.get(control_id)
    if answer is not None:
        return answer.via_control_id
    state = readiness.states.get(control_id)
    return state.via_control_id if state else None


def _via_controls(readiness: selectors.Readiness, controls: list[Control]) -> dict[int, Control]:
    """The controls that answers came through. Almost always adopted ones, already loaded; a control of
    a framework dropped since is fetched in one query."""
    wanted = {via for control in controls if (via := _via_id(readiness, control.pk))}
    found = {pk: readiness.controls[pk] for pk in wanted if pk in readiness.controls}
    missing = wanted - found.keys()
    if missing:
        found.update(Control.objects.select_related("framework").in_bulk(missing))
    return found


def _questions_by_control(controls: list[Control]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    questions = Question.objects.live().filter(control_id__in=[c.pk for c in controls]).order_by("position")
    for control_id, text, help_text in questions.values_list("control_id", "text", "help_text"):
        found[control_id].append((text, help_text))
    return found


def _member_names(organisation: Organisation) -> list[tuple[int, str]]:
    return [(m.user_id, m.user.display_name) for m in organisation_members(organisation)]


def _item(
    readiness: selectors.Readiness,
    control: Control,
    *,
    questions: dict[int, list[tuple[str, str]]],
    vias: dict[int, Control],
    members: list[tuple[int, str]],
    names: dict[int, str],
) -> ControlItem:
    answer = readiness.answers.get(control.pk)
    state = readiness.states.get(control.pk)
    via_id = _via_id(readiness, control.pk)
    return ControlItem(
        control=control,
        questions=questions.get(control.pk, []),
        answer=answer,
        status=state.status if state else (answer.status if answer else None),
        via=vias.get(via_id) if via_id else None,
        excluded_facts=readiness.excluded_by_profile.get(control.pk, []),
        updated_by=names.get(answer.updated_by_id, "") if answer and answer.updated_by_id else "",
        values=_values(answer),
        members=members,
    )


def _framework_controls(readiness: selectors.Readiness, framework_id: int) -> list[Control]:
    return [control for control in readiness.controls.values() if control.framework_id == framework_id]


def progress_for(readiness: selectors.Readiness, framework_id: int) -> Progress:
    """Answered (the control's own answer or a covering control's, not applicable included) of the
    controls that apply to the business."""
    answered = total = 0
    for control in _framework_controls(readiness, framework_id):
        if control.pk in readiness.excluded_by_profile:
            continue
        total += 1
        state = readiness.states.get(control.pk)
        answered += bool(state and state.status)
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
    controls = _framework_controls(readiness, framework.pk)
    questions = _questions_by_control(controls)
    vias = _via_controls(readiness, controls)
    members = _member_names(organisation)
    names = dict(members)
    items = [
        override
        if override is not None and override.pk == control.pk
        else _item(readiness, control, questions=questions, vias=vias, members=members, names=names)
        for control in controls
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
    the mappings as `services.covered_controls`, which applies a combined answer."""
    covers: dict[int, set[int]] = defaultdict(set)
    if not readiness.controls:
        return covers
    ids = list(readiness.controls)
    for source, target, relationship in ControlMapping.objects.filter(
        source_id__in=ids,
        target_id__in=ids,
        relationship__in=[Relationship.EQUAL, Relationship.SUBSET, Relationship.SUPERSET],
    ).values_list("source_id", "target_id", "relationship"):
        if relationship in (Relationship.EQUAL, Relationship.SUPERSET):
            covers[source].add(target)
        if relationship in (Relationship.EQUAL, Relationship.SUBSET):
            covers[target].add(source)
    return covers


def _combined_items(
    readiness: selectors.Readiness,
    covers: dict[int, set[int]],
    *,
    questions: dict[int, list[tuple[str, str]]],
    vias: dict[int, Control],
    members: list[tuple[int, str]],
) -> list[ControlItem]:
    """One item per question to ask. Controls that cover the most others lead; each control they
    cover is asked no more, and is listed under "Also answers" (under every lead that covers it)."""
    order = {pk: index for index, pk in enumerate(readiness.controls)}
    names = dict(members)
    applicable = [pk for pk in readiness.controls if pk not in readiness.excluded_by_profile]
    applicable_set = set(applicable)
    leads = sorted(applicable, key=lambda pk: (-len(covers.get(pk, set()) & applicable_set), order[pk]))
    taken: set[int] = set()
    items: list[ControlItem] = []
    for pk in leads:
        if pk in taken:
            continue
        # Every control the answer counts for is listed (as the service applies it to all of them); a
        # control already listed under another question is simply not asked again.
        covered = sorted(covers.get(pk, set()) & applicable_set, key=order.__getitem__)
        taken.add(pk)
        taken.update(covered)
        item = _item(readiness, readiness.controls[pk], questions=questions, vias=vias, members=members, names=names)
        item.combined = True
        for other in covered:
            answer = readiness.answers.get(other)
            item.covers.append(
                Covered(readiness.controls[other], answered_separately=bool(answer and answer.via_control_id != pk))
            )
        items.append(item)
    return sorted(items, key=lambda item: order[item.pk])


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
    controls = list(readiness.controls.values())
    members = _member_names(organisation)
    items = _combined_items(
        readiness,
        _covering(readiness),
        questions=_questions_by_control(controls),
        vias=_via_controls(readiness, controls),
        members=members,
    )
    if override is not None:
        items = [_with_covers(override, item) if item.pk == override.pk else item for item in items]
    return {
        "blocks": _framework_blocks(items),
        "progress": Progress(answered=sum(1 for item in items if item.status), total=len(items)),
        "question_count": len(items),
        "control_count": len(controls) - len(readiness.excluded_by_profile),
        "excluded_count": len(readiness.excluded_by_profile),
        "frameworks": readiness.frameworks,
        "resume": next((item for item in items if item.status is None), None),
        "answered_any": any(item.status for item in items),
    }


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
            messages.warning(request, _overwrite_notice(overwrote))
        return redirect(_back_to(control, combined=combined, query=request.POST.get("filters", "")))

    readiness = selectors.readiness_for(organisation)
    members = _member_names(organisation)
    item = _item(
        readiness,
        control,
        questions=_questions_by_control([control]),
        vias=_via_controls(readiness, [control]),
        members=members,
        names=dict(members),
    )
    item.combined = combined
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

    if combined:
        # Only the shape of combined mode is needed here: which controls this one answers, and progress.
        items = _combined_items(readiness, _covering(readiness), questions={}, vias={}, members=[])
        item.covers = next((shaped.covers for shaped in items if shaped.pk == control.pk), [])
        progress = Progress(answered=sum(1 for shaped in items if shaped.status), total=len(items))
    else:
        progress = progress_for(readiness, control.framework_id)
    context = {
        "item": item,
        "progress": progress,
        "noun": "questions" if combined else "controls",
        "query_string": request.POST.get("filters", ""),
    }
    return render(request, "assessments/includes/answer_saved.html", context, status=status)


def _overwrite_notice(overwrote: str) -> str:
    return f"{overwrote} since you opened the page; your answer replaced theirs (kept in the audit log)."
