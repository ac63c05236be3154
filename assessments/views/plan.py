"""The implementation plan: tasks built from the gaps by code, as a list or a board, and each task's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from html import escape
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Organisation
from accounts.roles import Capability
from assessments import charts, selectors, services
from assessments.access import get_task_for
from assessments.forms_plan import PlanFilterForm, TaskCreateForm, TaskForm, TaskMoveForm
from assessments.models import Answer, PlanTask, Priority, TaskStatus
from config.pages import render_page, wants_fragment
from evidence.embeds import task_evidence_context

PLAN_TEMPLATE = "assessments/plan.html"
TASK_TEMPLATE = "assessments/task_detail.html"


STATUS_ORDER: dict[str, int] = {TaskStatus.DOING: 0, TaskStatus.TODO: 1, TaskStatus.DONE: 2}
PRIORITY_LABELS: dict[int, str] = dict(Priority.choices)
STATUS_LABELS: dict[str, str] = dict(TaskStatus.choices)
# The badge of each priority, as assessments/plan_priority.html shows it on the task's page.
PRIORITY_BADGES: dict[int, str] = {
    Priority.CRITICAL: " badge-danger",
    Priority.HIGH: " badge-warning",
    Priority.LOW: " badge-muted",
}


@dataclass(frozen=True)
class TaskRow:
    """A task as the list and the board show it, read as plain values and worked out once: for a
    plan of 150 tasks, model instances, template includes and date formatting per task were most of
    the page's time."""

    pk: int
    title: str
    status: str
    priority: int
    due_date: date | None
    position: int
    owner_name: str
    control_count: int
    overdue: bool

    @property
    def url(self) -> str:
        return f"{_url_prefix('task_detail')}{self.pk}/"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    # The badges as assessments/plan_priority.html and plan_due.html show them on the task's page, built
    # here: a partial per badge was as slow as an include, twice per task.
    @property
    def priority_badge(self) -> SafeString:
        label = PRIORITY_LABELS.get(self.priority, str(self.priority))
        return mark_safe(f'<span class="badge{PRIORITY_BADGES.get(self.priority, "")}">{escape(label)}</span>')  # noqa: S308

    @property
    def due(self) -> SafeString:
        overdue = '<span class="badge badge-danger">Overdue</span> ' if self.overdue else ""
        if self.due_date is None:
            return mark_safe(f'{overdue}<span class="muted">No due date</span>')  # noqa: S308
        css = "task-due danger" if self.overdue else "task-due"
        when = f'datetime="{self.due_date.isoformat()}">{charts.long_date(self.due_date)}'
        return mark_safe(f'{overdue}<time class="{css}" {when}</time>')  # noqa: S308 - nothing here comes from people


ROW_FIELDS = ("id", "title", "status", "priority", "due_date", "position", "owner__full_name", "owner__email")


@cache
def _url_prefix(name: str) -> str:
    return reverse(name, args=[0]).removesuffix("0/")


def _row(
    pk: int,
    title: str,
    status: str,
    priority: int,
    due_date: date | None,
    position: int,
    owner_name: str,
    control_count: int,
    *,
    today: date,
) -> TaskRow:
    overdue = status != TaskStatus.DONE and due_date is not None and due_date < today
    return TaskRow(pk, title, status, priority, due_date, position, owner_name, control_count, overdue)


def task_rows(tasks: QuerySet[PlanTask], *, today: date) -> list[TaskRow]:
    """The rows of `selectors.tasks_for`, read as values (it annotates each task's control count)."""
    return [
        _row(pk, title, status, priority, due, position, full_name or email or "", count, today=today)
        for pk, title, status, priority, due, position, full_name, email, count in tasks.values_list(
            *ROW_FIELDS, "control_count"
        )
    ]


def _overdue_first(rows: list[TaskRow]) -> list[TaskRow]:
    """Overdue tasks lead, soonest due first; then work under way, then to do, then done, each in the
    plan's order (priority, due date)."""
    overdue = sorted((r for r in rows if r.overdue), key=lambda r: (r.due_date, r.priority, r.position))
    rest = sorted((r for r in rows if not r.overdue), key=lambda r: STATUS_ORDER.get(r.status, 3))
    return overdue + rest


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


def _plan_context(
    request: HttpRequest, organisation: Organisation, *, create_form: TaskCreateForm | None = None
) -> dict[str, Any]:
    filters = PlanFilterForm(request.GET or None)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    mine = cleaned.get("mine") == "1"
    view = cleaned.get("view") or "list"
    status = cleaned.get("status", "") if view == "list" else ""
    tasks = _overdue_first(
        task_rows(
            selectors.tasks_for(organisation, owner_id=request.user.pk if mine else None, status=status),
            today=timezone.localdate(),
        )
    )
    context: dict[str, Any] = {
        "filters": filters,
        "mine": mine,
        "view": view,
        "status": status,
        "filtered": mine or bool(status),
        "tasks": tasks,
        "overdue_count": sum(1 for row in tasks if row.overdue),
        "adoptions": list(selectors.adoptions_for(organisation)),
        "effort_days": {str(effort): days for effort, days in services.EFFORT_DAYS.items()},
    }
    if view == "board":
        context["columns"] = [
            {"status": value, "label": label, "tasks": [row for row in tasks if row.status == value]}
            for value, label in TaskStatus.choices
        ]
    if require_membership(request).can(Capability.EDIT):
        context["create_form"] = _with_inline_selects(create_form or TaskCreateForm(organisation=organisation))
    return context


class InlineSelect(forms.Select):
    """Django's <select>, its options written here rather than through two templates each: with the
    60 members of a large organisation in the owner field, "Add a task" was a fifth of the plan page's
    time. The markup is Django's (`django/forms/widgets/select.html`), without the optgroups these
    fields never have."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = "".join(
            f'<option value="{escape(str(option["value"]))}"{flatatt(option["attrs"])}>{escape(str(option["label"]))}'
            "</option>"
            for _group, choices, _index in widget["optgroups"]
            for option in choices
        )
        return mark_safe(f'<select name="{escape(name)}"{flatatt(widget["attrs"])}>{options}</select>')  # noqa: S308


def _with_inline_selects(form: TaskCreateForm) -> TaskCreateForm:
    for field in form.fields.values():
        if type(field.widget) is forms.Select:
            field.widget = InlineSelect(attrs=field.widget.attrs, choices=field.widget.choices)
    return form


@require_GET
@member_required()
def plan(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    return render_page(request, PLAN_TEMPLATE, _plan_context(request, organisation), fragment="results")


@require_POST
@member_required(Capability.EDIT)
def plan_generate(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    if not selectors.adoptions_for(organisation).exists():
        messages.info(request, "Choose the frameworks you are working towards first: the plan comes from their gaps.")
        return redirect("plan")
    tasks = services.plan_generate(organisation=organisation, actor=Actor.from_request(request))
    if tasks:
        noun = "task" if len(tasks) == 1 else "tasks"
        messages.success(request, f"Added {len(tasks)} {noun} from your gaps, the most urgent first.")
    else:
        messages.info(request, "Nothing new to add: every gap already has an open task.")
    return redirect("plan")


@require_POST
@member_required(Capability.EDIT)
def task_create(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = TaskCreateForm(request.POST, organisation=organisation)
    if not form.is_valid():
        if "controls" in form.errors:
            raise Http404("That control is not part of a framework your organisation has adopted.")
        context = _plan_context(request, organisation, create_form=form)
        return render_page(request, PLAN_TEMPLATE, {**context, "create_open": True})
    data = form.cleaned_data
    controls = list(data["controls"])
    task = services.task_create(
        organisation=organisation,
        actor=Actor.from_request(request),
        title=data["title"],
        description=data["description"],
        owner=data["owner"],
        due_date=data["due_date"],
        priority=data["priority"],
        effort=data["effort"],
        controls=controls,
    )
    messages.success(request, f"Added “{task.title}” to the plan.")
    if wants_fragment(request) and request.POST.get("from") == "gaps" and controls:
        # The gap list swaps the row's "Add to plan" for a link to the task, and does the same for
        # the mapped gaps the task also closes where they are on the page (out of band).
        primary_id = int(request.POST.getlist("controls")[0])
        shown = {int(pk) for pk in request.POST.get("shown", "").split(",") if pk.isdigit()}
        controls.sort(key=lambda control: control.pk != primary_id)
        return render_page(
            request,
            "assessments/gaps.html",
            {"planned_task": task, "planned_controls": [c for c in controls if c.pk == primary_id or c.pk in shown]},
            fragment="gap-planned",
        )
    return redirect(_next_url(request, reverse("plan")))


def _linked_answers(organisation: Organisation, task: PlanTask) -> list[dict[str, Any]]:
    """Each linked control with the open round's answer, for the task page and its "mark implemented" forms."""
    controls = list(task.controls.all())
    current = selectors.open_round(organisation)
    answers: dict[int, Answer] = {}
    if current is not None and controls:
        answers = {
            a.control_id: a
            for a in Answer.objects.filter(organisation=organisation, round=current, control__in=controls)
        }
    return [
        {"control": control, "answer": answers.get(control.pk)}
        for control in sorted(controls, key=lambda c: (c.framework.position, c.position))
    ]


def _task_page(request: HttpRequest, task: PlanTask, form: TaskForm | None = None) -> HttpResponse:
    membership = require_membership(request)
    organisation = membership.organisation
    linked = _linked_answers(organisation, task)
    return render_page(
        request,
        TASK_TEMPLATE,
        {
            "task": task,
            "form": form or TaskForm(instance=task, organisation=organisation),
            "linked": linked,
            "to_mark": [item for item in linked if item["answer"] is None or item["answer"].status != "implemented"],
            "task_evidence": task_evidence_context(organisation, [item["control"].pk for item in linked], membership),
        },
    )


@require_GET
@member_required()
def task_detail(request: HttpRequest, plantask_id: int) -> HttpResponse:
    return _task_page(request, get_task_for(request, plantask_id))


@require_POST
@member_required()
def task_update(request: HttpRequest, plantask_id: int) -> HttpResponse:
    task = get_task_for(request, plantask_id, write=True)
    organisation = require_membership(request).organisation
    was_done = task.status == TaskStatus.DONE
    if request.POST.get("move"):
        move = TaskMoveForm(request.POST)
        if not move.is_valid():
            messages.error(request, "Choose To do, Doing or Done.")
            return redirect(reverse("plan", query={"view": "board"}))
        values: dict[str, Any] = {"status": move.cleaned_data["status"]}
    else:
        # No instance: a ModelForm would change the task itself while validating, and the service
        # needs the old values to say what changed.
        form = TaskForm(request.POST, organisation=organisation)
        if not form.is_valid():
            return _task_page(request, task, form)
        values = {name: form.cleaned_data[name] for name in TaskForm.Meta.fields}
    try:
        task = services.task_update(task=task, values=values, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, error.messages[0] if error.messages else "That could not be saved.")
        return redirect("task_detail", plantask_id=task.pk)
    just_done = task.status == TaskStatus.DONE and not was_done
    if request.POST.get("move"):
        messages.success(request, f"Moved “{task.title}” to {task.get_status_display()}.")
        mine = request.POST.get("mine") == "1"
        if wants_fragment(request):
            owner = task.owner.display_name if task.owner else ""
            row = _row(
                task.pk,
                task.title,
                task.status,
                task.priority,
                task.due_date,
                task.position,
                owner,
                len(task.controls.all()),
                today=timezone.localdate(),
            )
            return render_page(
                request, PLAN_TEMPLATE, {"row": row, "just_done": just_done, "mine": mine}, fragment="card-moved"
            )
        return redirect(reverse("plan", query={"view": "board", **({"mine": "1"} if mine else {})}))
    if just_done and task.controls.exists():
        messages.success(request, "Task done. If its controls are now in place, mark them implemented below.")
        return redirect(reverse("task_detail", kwargs={"plantask_id": task.pk}) + "#update-answers")
    messages.success(request, "Task saved.")
    return redirect("task_detail", plantask_id=task.pk)
