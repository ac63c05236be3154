from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.access import member_required, require_membership
from assessments.models import FrameworkAdoption
from assessments.selectors import FrameworkReadiness, readiness_for
from compliance import selectors
from compliance.models import Control, Framework
from compliance.search import search_controls
from config.pages import render_page
from evidence.embeds import control_evidence_context

SEARCH_LIMIT = 40


@require_GET
@member_required()
def framework_list(request: HttpRequest) -> HttpResponse:
    return render_page(request, "compliance/catalogue.html", {"frameworks": selectors.frameworks_with_counts()})


@require_GET
@member_required()
def framework_detail(request: HttpRequest, framework_slug: str) -> HttpResponse:
    framework = selectors.framework_by_slug(framework_slug)
    tree = selectors.framework_tree(framework)
    return render_page(
        request,
        "compliance/framework_detail.html",
        {"framework": framework, "tree": tree, "progress": _assessment_progress(request, framework, tree)},
    )


@dataclass(frozen=True)
class ControlProgress:
    """A control's answer as the framework page shows it."""

    label: str
    badge: str
    via: str = ""


@dataclass(frozen=True)
class FrameworkProgress:
    readiness: FrameworkReadiness
    answered: int
    applicable: int


ANSWER_BADGES = {
    "implemented": ("Implemented", "badge-success"),
    "partial": ("Partially implemented", "badge-warning"),
    "not_implemented": ("Not implemented", "badge-danger"),
    "not_applicable": ("Not applicable", "badge-muted"),
    None: ("Not answered yet", ""),
}


def _assessment_progress(
    request: HttpRequest, framework: Framework, tree: list[selectors.GroupNode]
) -> FrameworkProgress | None:
    """When the organisation has adopted the framework: its readiness, and each control's answer set
    on the control as `progress` for the tree to show. A fixed number of queries, whatever the size."""
    membership = require_membership(request)
    if not FrameworkAdoption.objects.filter(organisation_id=membership.organisation_id, framework=framework).exists():
        return None
    readiness = readiness_for(membership.organisation)
    framework_readiness = readiness.for_framework(framework.pk)
    if framework_readiness is None:
        return None
    answered = applicable = 0
    controls: list[Control] = []
    nodes = list(tree)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children)
        controls.extend(control for control in node.controls if control.pk in readiness.states)
    # The controls answers came through, for "counted from": one query, only when there are any.
    vias = readiness.load_controls(pk for control in controls if (pk := readiness.via_id(control.pk)))
    for control in controls:
        state = readiness.states[control.pk]  # the tree's assessable, live controls
        if control.pk in readiness.excluded_by_profile:
            control.progress = ControlProgress("Does not apply to you", "badge-muted")  # type: ignore[attr-defined]
            continue
        applicable += 1
        answered += bool(state.status)
        label, badge = ANSWER_BADGES.get(state.status, ANSWER_BADGES[None])
        via_id = readiness.via_id(control.pk)
        via = vias.get(via_id) if via_id else None
        control.progress = ControlProgress(  # type: ignore[attr-defined]
            label, badge, f"{via.framework.name} {via.ref}" if via else ""
        )
    return FrameworkProgress(framework_readiness, answered=answered, applicable=applicable)


@require_GET
@member_required()
def control_detail(request: HttpRequest, framework_slug: str, control_ref: str) -> HttpResponse:
    membership = require_membership(request)
    control = selectors.control_for_page(framework_slug, control_ref)
    return render_page(
        request,
        "compliance/control_detail.html",
        {
            "control": control,
            "framework": control.framework,
            "mapped": selectors.mapped_controls(control),
            "control_evidence": control_evidence_context(membership.organisation, control, membership),
        },
    )


@require_GET
@member_required()
def control_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    results = list(search_controls(query, limit=SEARCH_LIMIT)) if query else []
    return render_page(
        request,
        "compliance/search.html",
        {"query": query, "results": results, "limit": SEARCH_LIMIT},
        fragment="results",
    )
