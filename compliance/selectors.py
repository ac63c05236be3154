"""Reads of the framework library, shaped for the pages and the API."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from compliance.models import Control, ControlGroup, ControlMapping, Framework, Question


def frameworks_with_counts() -> QuerySet[Framework]:
    live = Q(controls__retired_at__isnull=True)
    return Framework.objects.annotate(
        control_count=Count("controls", filter=live),
        assessable_count=Count("controls", filter=live & Q(controls__assessable=True)),
    ).order_by("position", "name")


def framework_by_slug(slug: str) -> Framework:
    return get_object_or_404(Framework, slug=slug)


@dataclass
class GroupNode:
    group: ControlGroup
    controls: list[Control] = field(default_factory=list)
    children: list[GroupNode] = field(default_factory=list)

    @property
    def control_total(self) -> int:
        return len(self.controls) + sum(child.control_total for child in self.children)


def framework_tree(framework: Framework) -> list[GroupNode]:
    """The framework's live groups as a tree, each with its live controls: two queries whatever the size."""
    nodes = {
        group.pk: GroupNode(group)
        for group in ControlGroup.objects.live().filter(framework=framework).order_by("position")
    }
    for control in Control.objects.live().filter(framework=framework).order_by("position"):
        if control.group_id in nodes:
            nodes[control.group_id].controls.append(control)
    roots: list[GroupNode] = []
    for node in nodes.values():
        parent = nodes.get(node.group.parent_id) if node.group.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def control_for_page(framework_slug: str, control_ref: str) -> Control:
    return get_object_or_404(
        Control.objects.select_related("framework", "group", "group__parent").prefetch_related(
            Prefetch("questions", queryset=Question.objects.live().order_by("position"), to_attr="live_questions")
        ),
        framework__slug=framework_slug,
        ref=control_ref,
    )


@dataclass(frozen=True)
class MappedControl:
    control: Control
    relationship: str
    rationale: str


# How another framework's control relates to this one, read from this control's side.
RELATIONSHIP_FROM_HERE = {
    "equal": "Same requirement",
    "subset": "Meeting it also meets this control",
    "superset": "Meets part of this control",
    "intersect": "Overlaps in part",
}
INVERSE = {"subset": "superset", "superset": "subset", "equal": "equal", "intersect": "intersect"}


def mapped_controls(control: Control) -> list[MappedControl]:
    """Controls of other frameworks mapped to this one, in either direction, described from this side."""
    mappings = ControlMapping.objects.filter(Q(source=control) | Q(target=control)).select_related(
        "source__framework", "target__framework"
    )
    found: list[MappedControl] = []
    for mapping in mappings:
        if mapping.source_id == control.pk:
            other, relationship = mapping.target, mapping.relationship
        else:
            other, relationship = mapping.source, INVERSE[mapping.relationship]
        found.append(MappedControl(other, RELATIONSHIP_FROM_HERE[relationship], mapping.rationale))
    return sorted(found, key=lambda item: (item.control.framework.position, item.control.position))


def controls_filtered(*, framework_slug: str = "", group_ref: str = "") -> QuerySet[Control]:
    controls = Control.objects.live().select_related("framework", "group").order_by("framework__position", "position")
    if framework_slug:
        controls = controls.filter(framework__slug=framework_slug)
    if group_ref:
        controls = controls.filter(group__ref=group_ref)
    return controls
