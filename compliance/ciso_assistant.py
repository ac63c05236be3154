"""Reading the open YAML library format of the CISO Assistant project into our library shapes.

A CISO Assistant library holds `objects.framework` (a flat list of `requirement_nodes` linked by
`parent_urn`) and/or `objects.requirement_mapping_set(s)`. Nodes with children become groups, the
other nodes controls; an assessable node with children is both. Whatever cannot be represented is
skipped with a reason, and structural faults (duplicate refs, unknown parents) stop the import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compliance.library_format import (
    ControlSpec,
    FrameworkDocument,
    FrameworkSpec,
    GroupSpec,
    LibraryError,
    MappingSpec,
    QuestionSpec,
)
from compliance.models import Relationship

ROOT_GROUP = "GENERAL"


@dataclass
class CisoImport:
    framework: FrameworkDocument | None = None
    # Mapping sets keep URNs until the loader resolves them against the library.
    mapping_sets: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def is_ciso_assistant(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("objects"), dict)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def slug_from_urn(urn: str) -> str:
    tail = urn.rsplit(":", 1)[-1]
    return re.sub(r"[^a-z0-9-]+", "-", tail.lower()).strip("-")[:60] or "imported-framework"


def parse_ciso_assistant(data: Any, *, source: str, slug: str | None = None) -> CisoImport:
    if not is_ciso_assistant(data):
        raise LibraryError(source, "not a CISO Assistant library (no 'objects' section)")
    result = CisoImport()
    objects = data["objects"]
    if isinstance(objects.get("framework"), dict):
        result.framework = _framework(data, objects["framework"], source=source, slug=slug, skipped=result.skipped)
    sets = objects.get("requirement_mapping_sets") or []
    if isinstance(objects.get("requirement_mapping_set"), dict):
        sets = [objects["requirement_mapping_set"], *sets]
    result.mapping_sets = list(sets)
    if result.framework is None and not result.mapping_sets:
        raise LibraryError(source, "the library holds neither a framework nor a mapping set")
    for key in objects:
        if key not in {"framework", "requirement_mapping_set", "requirement_mapping_sets"}:
            result.skipped.append(f"objects.{key}: Greenlight does not import this kind of object")
    return result


def _framework(
    library: dict[str, Any], raw: dict[str, Any], *, source: str, slug: str | None, skipped: list[str]
) -> FrameworkDocument:
    urn = _text(raw.get("urn"))
    name = _text(raw.get("name")) or _text(library.get("name"))
    if not urn or not name:
        raise LibraryError(source, "the framework needs a urn and a name")
    spec = FrameworkSpec(
        slug=slug or slug_from_urn(urn),
        name=name,
        version=_text(library.get("version")) or "1",
        publisher=_text(library.get("provider")) or _text(library.get("packager")) or "Imported",
        jurisdiction="International",
        description=_text(raw.get("description")) or _text(library.get("description")) or name,
        licence_note=_text(library.get("copyright")),
        urn=urn,
    )
    document = FrameworkDocument(source=source, framework=spec)
    nodes = [node for node in raw.get("requirement_nodes") or [] if isinstance(node, dict)]
    by_urn: dict[str, dict[str, Any]] = {}
    for node in nodes:
        node_urn = _text(node.get("urn"))
        if not node_urn:
            raise LibraryError(source, "a requirement node has no urn", _text(node.get("ref_id")) or None)
        if node_urn in by_urn:
            raise LibraryError(source, "requirement node urn appears twice", node_urn)
        by_urn[node_urn] = node
    parents = {_text(node.get("parent_urn")) for node in nodes if node.get("parent_urn")}
    for node in nodes:
        parent = _text(node.get("parent_urn"))
        if parent and parent not in by_urn:
            raise LibraryError(source, f"parent '{parent}' is unknown", _ref(node))

    group_refs: dict[str, str] = {}
    used_refs: set[str] = set()
    for node in nodes:
        if _text(node.get("urn")) not in parents:
            continue
        ref = _ref(node)
        if ref in group_refs.values():
            raise LibraryError(source, "group ref appears twice", ref)
        parent_urn = _text(node.get("parent_urn"))
        group_refs[_text(node["urn"])] = ref
        document.groups.append(
            GroupSpec(
                ref=ref,
                kind="section" if parent_urn else "chapter",
                title=_text(node.get("name")) or ref,
                parent=group_refs.get(parent_urn),
                description=_text(node.get("description")),
            )
        )
    if any(not node.get("parent_urn") and _text(node.get("urn")) not in parents for node in nodes):
        document.groups.insert(0, GroupSpec(ref=ROOT_GROUP, kind="section", title="General", parent=None))

    for node in nodes:
        node_urn = _text(node["urn"])
        is_group = node_urn in parents
        assessable = bool(node.get("assessable", False))
        if is_group and not assessable:
            continue
        ref = _ref(node)
        if ref in used_refs:
            raise LibraryError(source, "control ref appears twice", ref)
        used_refs.add(ref)
        title = _text(node.get("name")) or _text(node.get("description"))[:120] or ref
        description = _text(node.get("description")) or title
        if not title:
            skipped.append(f"{ref}: no name or description")
            continue
        questions = _questions(node, title) if assessable else ()
        group = group_refs[node_urn] if is_group else group_refs.get(_text(node.get("parent_urn")), ROOT_GROUP)
        document.controls.append(
            ControlSpec(
                ref=ref,
                group=group,
                title=title[:300],
                description=description,
                guidance=_text(node.get("annotation")) or _text(node.get("implementation_guidance")),
                questions=questions,
                evidence=tuple(_text(e) for e in node.get("typical_evidence") or [] if _text(e)),
                weight=3,
                applies_if=(),
                auto_fail=False,
                assessable=assessable,
                urn=node_urn,
            )
        )
    if not document.controls:
        raise LibraryError(source, "the framework has no requirements Greenlight can import")
    return document


def _ref(node: dict[str, Any]) -> str:
    return (_text(node.get("ref_id")) or _text(node.get("urn")).rsplit(":", 1)[-1])[:40]


def _questions(node: dict[str, Any], title: str) -> tuple[QuestionSpec, ...]:
    raw = node.get("questions")
    found: list[QuestionSpec] = []
    if isinstance(raw, dict):  # newer libraries: {urn: {text: ..., type: ...}}
        for position, item in enumerate(raw.values(), start=1):
            text = _text(item.get("text")) if isinstance(item, dict) else _text(item)
            if text:
                found.append(QuestionSpec(key=f"q{position}", text=text))
    elif isinstance(raw, list):
        for position, item in enumerate(raw, start=1):
            text = _text(item.get("text")) if isinstance(item, dict) else _text(item)
            if text:
                found.append(QuestionSpec(key=f"q{position}", text=text))
    # A requirement without its own question is asked as it stands.
    return tuple(found) or (QuestionSpec(key="q1", text=f"Does your organisation meet this requirement: {title}?"),)


def mapping_specs(
    mapping_set: dict[str, Any],
    *,
    controls_by_urn: dict[str, tuple[str, str]],
    frameworks_by_urn: set[str],
    source: str,
    skipped: list[str],
) -> list[MappingSpec]:
    """Turn one mapping set into mapping specs, given the library's controls by URN."""
    name = _text(mapping_set.get("urn")) or "mapping set"
    for end in ("source_framework_urn", "target_framework_urn"):
        framework_urn = _text(mapping_set.get(end))
        if framework_urn not in frameworks_by_urn:
            skipped.append(f"{name}: framework {framework_urn or '(none)'} is not in the library, set skipped")
            return []
    specs: list[MappingSpec] = []
    for raw in mapping_set.get("requirement_mappings") or []:
        relationship = _text(raw.get("relationship"))
        source_urn, target_urn = _text(raw.get("source_requirement_urn")), _text(raw.get("target_requirement_urn"))
        if relationship not in Relationship.values:
            skipped.append(f"{source_urn} -> {target_urn}: relationship '{relationship}' is not imported")
            continue
        for urn in (source_urn, target_urn):
            if urn not in controls_by_urn:
                raise LibraryError(source, "the mapped requirement does not exist in the library", urn)
        specs.append(
            MappingSpec(
                source=controls_by_urn[source_urn],
                target=controls_by_urn[target_urn],
                relationship=relationship,
                rationale=_text(raw.get("rationale")),
            )
        )
    return specs
