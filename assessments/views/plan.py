"""The implementation plan: tasks built from the gaps by code, as a list or a board, and each task's page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Organisation
from accounts.roles import Capability
from assessments import selectors, services
from assessments.access import get_task_for
from assessments.forms_plan import PlanFilterForm, TaskCreateForm, TaskForm, TaskMoveForm
from assessments.models import Answer, PlanTask, TaskStatus
from config.pages import render_page, wants_fragment

PLAN_TEMPLATE = "assessments/plan.html"
TASK_TEMPLATE = "assessments/task_detail.html"


STATUS_ORDER: dict[str, int] = {TaskStatus.DOING: 0, TaskStatus.TODO: 1, TaskStatus.DONE: 2}


def _overdue_first(tasks: list[PlanTask]) -> list[PlanTask]:
    """Overdue tasks lead, soonest due first; then work under way, then to do, then done, each in the
    plan's order (priority, due date)."""
    overdue = sorted((t for t in tasks if t.is_overdue), key=lambda t: (t.due_date, t.priority, t.position))
    rest = sorted((t for t in tasks if not t.is_overdue), key=lambda t: STATUS_ORDER.get(t.status, 3))
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
        list(selectors.tasks_for(organisation, owner_id=request.user.pk if mine else None, status=status))
    )
    context: dict[str, Any] = {
        "filters": filters,
        "mine": mine,
        "view": view,
        "status": status,
        "filtered": mine or bool(status),
        "tasks": tasks,
        "overdue_count": sum(1 for task in tasks if task.is_overdue),
        "adoptions": list(selectors.adoptions_for(organisation)),
        "effort_days": {str(effort): days for effort, days in services.EFFORT_DAYS.items()},
    }
    if view == "board":
        context["columns"] = [
            {"status": value, "label": label, "tasks": [task for task in tasks if task.status == value]}
            for value, label in TaskStatus.choices
        ]
    if require_membership(request).can(Capability.EDIT):
        context["create_form"] = create_form or TaskCreateForm(organisation=organisation)
    return context


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
    organisation = require_membership(request).organisation
    linked = _linked_answers(organisation, task)
    return render_page(
        request,
        TASK_TEMPLATE,
        {
            "task": task,
            "form": form or TaskForm(instance=task, organisation=organisation),
            "linked": linked,
            "to_mark": [item for item in linked if item["answer"] is None or item["answer"].status != "implemented"],
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
            return render_page(
                request, PLAN_TEMPLATE, {"task": task, "just_done": just_done, "mine": mine}, fragment="card-moved"
            )
        return redirect(reverse("plan", query={"view": "board", **({"mine": "1"} if mine else {})}))
    if just_done and task.controls.exists():
        messages.success(request, "Task done. If its controls are now in place, mark them implemented below.")
        return redirect(reverse("task_detail", kwargs={"plantask_id": task.pk}) + "#update-answers")
    messages.success(request, "Task saved.")
    return redirect("task_detail", plantask_id=task.pk)
