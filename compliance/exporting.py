"""Writing a framework out in our own library format, so it can be edited and loaded again."""

from __future__ import annotations

from typing import Any

import yaml

from compliance.library_format import FORMAT
from compliance.models import Control, ControlGroup, ControlMapping, Framework, Question


class _LiteralDumper(yaml.SafeDumper):
    pass


def _text_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _text_representer)


def framework_document(framework: Framework) -> dict[str, Any]:
    groups = ControlGroup.objects.live().filter(framework=framework).select_related("parent").order_by("position")
    controls = Control.objects.live().filter(framework=framework).select_related("group").order_by("position")
    questions: dict[int, list[Question]] = {}
    for question in Question.objects.live().filter(control__framework=framework).order_by("control_id", "position"):
        questions.setdefault(question.control_id, []).append(question)
    header: dict[str, Any] = {
        "slug": framework.slug,
        "name": framework.name,
        "version": framework.version,
        "version_label": framework.version_label,
        "publisher": framework.publisher,
        "effective_date": framework.effective_date.isoformat() if framework.effective_date else None,
        "jurisdiction": framework.jurisdiction,
        "source_url": framework.source_url,
        "licence_note": framework.licence_note,
        "description": framework.description,
    }
    return {
        "format": FORMAT,
        "framework": {key: value for key, value in header.items() if value not in (None, "")},
        "groups": [
            {
                "ref": group.ref,
                "kind": group.kind,
                "title": group.title,
                "parent": group.parent.ref if group.parent else None,
                "description": group.description,
            }
            for group in groups
        ],
        "controls": [
            {
                "ref": control.ref,
                "group": control.group.ref,
                "title": control.title,
                "description": control.description,
                "guidance": control.guidance,
                "questions": [
                    {
                        "key": question.key,
                        "text": question.text,
                        **({"help": question.help_text} if question.help_text else {}),
                    }
                    for question in questions.get(control.pk, [])
                ],
                "evidence": list(control.typical_evidence),
                "weight": control.weight,
                "applies_if": list(control.applies_if),
                "auto_fail": control.auto_fail,
                "assessable": control.assessable,
            }
            for control in controls
        ],
    }


def mappings_document(framework: Framework) -> dict[str, Any]:
    mappings = (
        ControlMapping.objects.filter(source__framework=framework)
        .select_related("source__framework", "target__framework")
        .order_by("source__position", "target__framework__position", "target__position")
    )
    return {
        "format": FORMAT,
        "mappings": [
            {
                "source": f"{m.source.framework.slug}:{m.source.ref}",
                "target": f"{m.target.framework.slug}:{m.target.ref}",
                "relationship": m.relationship,
                "rationale": m.rationale,
            }
            for m in mappings
        ],
    }


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=110)
