"""Writes to the framework library: loading data files in bulk, and mappings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from compliance import search
from compliance.library_format import (
    LIBRARY_DIR,
    FrameworkDocument,
    LibraryError,
    MappingSpec,
    parse_framework,
    parse_mappings,
    read_yaml,
    read_yaml_bytes,
)
from compliance.models import Control, ControlGroup, ControlMapping, Framework, Question
from compliance.synonyms import SYNONYMS_FINGERPRINT, expansions


@dataclass
class LoadResult:
    slug: str
    skipped: bool = False
    created: int = 0
    updated: int = 0
    retired: int = 0
    restored: int = 0
    notes: list[str] = field(default_factory=list)


def _search_text(document_control: Any) -> str:
    text = " ".join(
        [
            document_control.ref,
            document_control.title,
            document_control.description,
            document_control.guidance,
            *[question.text for question in document_control.questions],
            *document_control.evidence,
        ]
    )
    return " ".join(sorted(expansions(text)))


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


@transaction.atomic
def framework_load(
    *, document: FrameworkDocument, position: int = 0, force: bool = False, origin: str = "greenlight"
) -> LoadResult:
    """Create or update one framework from a parsed document, in bulk, in one transaction.

    Groups, controls and questions are matched by ref (and question key); what is missing from the
    document is retired, what reappears is restored. Nothing is ever deleted.
    """
    spec = document.framework
    result = LoadResult(slug=spec.slug)
    now = timezone.now()
    framework = Framework.objects.select_for_update().filter(slug=spec.slug).first()
    if framework and not force and document.content_hash and framework.content_hash == document.content_hash:
        result.skipped = True
        return result
    framework_values = {
        "name": spec.name,
        "version": spec.version,
        "version_label": spec.version_label,
        "publisher": spec.publisher,
        "effective_date": spec.effective_date,
        "jurisdiction": spec.jurisdiction,
        "source_url": spec.source_url,
        "licence_note": spec.licence_note,
        "description": spec.description,
        "content_hash": document.content_hash,
        "loaded_at": now,
        "position": position,
        "origin": origin,
        "urn": spec.urn,
    }
    if framework is None:
        framework = Framework(slug=spec.slug, **framework_values)
    else:
        _assign(framework, framework_values)
    try:
        framework.full_clean()
    except ValidationError as error:
        raise LibraryError(
            document.source, "; ".join(f"{key}: {' '.join(messages)}" for key, messages in error.message_dict.items())
        ) from error
    framework.save()

    groups = _load_groups(framework, document, now, result)
    controls = _load_controls(framework, document, groups, now, result)
    _load_questions(document, controls, now)
    search.index_framework(framework)
    return result


def _load_groups(
    framework: Framework, document: FrameworkDocument, now: Any, result: LoadResult
) -> dict[str, ControlGroup]:
    existing = {group.ref: group for group in ControlGroup.objects.filter(framework=framework)}
    new = [
        ControlGroup(framework=framework, ref=spec.ref, kind=spec.kind, title=spec.title, position=0)
        for spec in document.groups
        if spec.ref not in existing
    ]
    ControlGroup.objects.bulk_create(new)
    by_ref = {**existing, **{group.ref: group for group in new}}
    if connection.features.can_return_rows_from_bulk_insert is False:  # pragma: no cover - old SQLite only
        by_ref = {group.ref: group for group in ControlGroup.objects.filter(framework=framework)}
    wanted = {spec.ref for spec in document.groups}
    for position, spec in enumerate(document.groups, start=1):
        group = by_ref[spec.ref]
        _assign(
            group,
            {
                "kind": spec.kind,
                "title": spec.title,
                "description": spec.description,
                "position": position,
                "parent_id": by_ref[spec.parent].pk if spec.parent else None,
                "retired_at": None,
            },
        )
    for ref, group in by_ref.items():
        if ref not in wanted and group.retired_at is None:
            group.retired_at = now
    ControlGroup.objects.bulk_update(
        list(by_ref.values()), ["kind", "title", "description", "position", "parent", "retired_at"], batch_size=500
    )
    return by_ref


CONTROL_FIELDS = [
    "group",
    "title",
    "description",
    "guidance",
    "typical_evidence",
    "weight",
    "applies_if",
    "auto_fail",
    "assessable",
    "position",
    "retired_at",
    "search_text",
    "urn",
]


def _load_controls(
    framework: Framework, document: FrameworkDocument, groups: dict[str, ControlGroup], now: Any, result: LoadResult
) -> dict[str, Control]:
    existing = {control.ref: control for control in Control.objects.filter(framework=framework)}
    new: list[Control] = []
    changed: list[Control] = []
    for position, spec in enumerate(document.controls, start=1):
        values = {
            "group": groups[spec.group],
            "title": spec.title,
            "description": spec.description,
            "guidance": spec.guidance,
            "typical_evidence": list(spec.evidence),
            "weight": spec.weight,
            "applies_if": list(spec.applies_if),
            "auto_fail": spec.auto_fail,
            "assessable": spec.assessable,
            "position": position,
            "retired_at": None,
            "search_text": _search_text(spec),
            "urn": spec.urn,
        }
        control = existing.get(spec.ref)
        if control is None:
            new.append(Control(framework=framework, ref=spec.ref, **values))
            continue
        was_retired = control.retired_at is not None
        if _assign(control, values):
            changed.append(control)
            if was_retired:
                result.restored += 1
            else:
                result.updated += 1
    wanted = {spec.ref for spec in document.controls}
    for ref, control in existing.items():
        if ref not in wanted and control.retired_at is None:
            control.retired_at = now
            changed.append(control)
            result.retired += 1
            result.notes.append(f"retired {ref}")
    Control.objects.bulk_create(new, batch_size=500)
    Control.objects.bulk_update(changed, CONTROL_FIELDS, batch_size=500)
    result.created = len(new)
    return {**existing, **{control.ref: control for control in new}}


def _load_questions(document: FrameworkDocument, controls: dict[str, Control], now: Any) -> None:
    control_ids = [control.pk for control in controls.values()]
    existing = {
        (question.control_id, question.key): question
        for question in Question.objects.filter(control_id__in=control_ids)
    }
    new: list[Question] = []
    changed: list[Question] = []
    wanted: set[tuple[int, str]] = set()
    for spec in document.controls:
        control = controls[spec.ref]
        for position, question_spec in enumerate(spec.questions, start=1):
            key = (control.pk, question_spec.key)
            wanted.add(key)
            values = {
                "text": question_spec.text,
                "help_text": question_spec.help_text,
                "position": position,
                "retired_at": None,
            }
            question = existing.get(key)
            if question is None:
                new.append(Question(control=control, key=question_spec.key, **values))
            elif _assign(question, values):
                changed.append(question)
    for key, question in existing.items():
        if key not in wanted and question.retired_at is None:
            question.retired_at = now
            changed.append(question)
    Question.objects.bulk_create(new, batch_size=1000)
    Question.objects.bulk_update(changed, ["text", "help_text", "position", "retired_at"], batch_size=1000)


@transaction.atomic
def mappings_load(*, mappings: list[MappingSpec], source: str, origin: str = "greenlight") -> int:
    """Replace the mappings a file owns with its current content; every end must exist."""
    slugs = {end[0] for mapping in mappings for end in (mapping.source, mapping.target)}
    controls = {
        (slug, ref): pk
        for pk, slug, ref in Control.objects.filter(framework__slug__in=slugs).values_list(
            "pk", "framework__slug", "ref"
        )
    }
    rows: list[ControlMapping] = []
    for mapping in mappings:
        for end in (mapping.source, mapping.target):
            if end not in controls:
                raise LibraryError(source, "the mapped control does not exist in the library", ":".join(end))
        rows.append(
            ControlMapping(
                source_id=controls[mapping.source],
                target_id=controls[mapping.target],
                relationship=mapping.relationship,
                rationale=mapping.rationale,
                origin=source,
            )
        )
    ControlMapping.objects.filter(origin=source).delete()
    ControlMapping.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def library_files() -> tuple[list[Any], list[Any]]:
    # `*.part.yaml` files are fragments being written, not frameworks.
    frameworks = sorted(path for path in LIBRARY_DIR.glob("*.yaml") if not path.name.endswith(".part.yaml"))
    mappings = sorted(path for path in (LIBRARY_DIR / "mappings").glob("*.yaml"))
    return frameworks, mappings


FRAMEWORK_ORDER = ["uk-gdpr", "cyber-essentials", "iso27001-2022", "soc2-tsc-2017", "nist-csf-2.0", "pci-dss-4.0.1"]


def library_load(*, force: bool = False) -> list[LoadResult]:
    """Load every bundled framework file, then every mapping file. Each framework is its own transaction."""
    framework_paths, mapping_paths = library_files()
    results: list[LoadResult] = []
    loaded_hashes = set(Framework.objects.exclude(content_hash="").values_list("content_hash", flat=True))
    for path in framework_paths:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw + SYNONYMS_FINGERPRINT.encode()).hexdigest()
        if digest in loaded_hashes and not force:
            results.append(LoadResult(slug=path.stem, skipped=True))
            continue
        data = read_yaml_bytes(raw, source=path.name)
        document = parse_framework(data, source=path.name, content_hash=digest)
        slug = document.framework.slug
        position = FRAMEWORK_ORDER.index(slug) + 1 if slug in FRAMEWORK_ORDER else len(FRAMEWORK_ORDER) + 1
        results.append(framework_load(document=document, position=position, force=force))
    for path in mapping_paths:
        data, _digest = read_yaml(path)
        count = mappings_load(mappings=parse_mappings(data, source=path.name), source=path.name)
        results.append(LoadResult(slug=f"mappings {path.name}", created=count))
    return results


@dataclass
class ImportReport:
    frameworks: list[LoadResult] = field(default_factory=list)
    mappings: int = 0
    skipped: list[str] = field(default_factory=list)


@transaction.atomic
def library_import(*, data: Any, source: str, slug: str | None = None) -> ImportReport:
    """Import a library file in our format or CISO Assistant's; all of it, or nothing.

    An import never overwrites a framework from another origin (the bundled library included):
    give it a different slug instead.
    """
    from compliance.ciso_assistant import is_ciso_assistant, mapping_specs, parse_ciso_assistant

    report = ImportReport()
    if is_ciso_assistant(data):
        parsed = parse_ciso_assistant(data, source=source, slug=slug)
        report.skipped.extend(parsed.skipped)
        if parsed.framework is not None:
            _refuse_overwrite(parsed.framework.framework.slug, origin="ciso-assistant", source=source)
            report.frameworks.append(
                framework_load(document=parsed.framework, position=100, force=True, origin="ciso-assistant")
            )
        controls_by_urn = {
            urn: (framework_slug, ref)
            for urn, framework_slug, ref in Control.objects.exclude(urn="").values_list("urn", "framework__slug", "ref")
        }
        frameworks_by_urn = set(Framework.objects.exclude(urn="").values_list("urn", flat=True))
        for index, mapping_set in enumerate(parsed.mapping_sets):
            specs = mapping_specs(
                mapping_set,
                controls_by_urn=controls_by_urn,
                frameworks_by_urn=frameworks_by_urn,
                source=source,
                skipped=report.skipped,
            )
            if specs:
                report.mappings += mappings_load(mappings=specs, source=f"{source}#{index}")
        return report
    if isinstance(data, dict) and "mappings" in data and "framework" not in data:
        report.mappings = mappings_load(mappings=parse_mappings(data, source=source), source=source)
        return report
    document = parse_framework(data, source=source)
    if slug:
        document.framework = type(document.framework)(**{**document.framework.__dict__, "slug": slug})
    _refuse_overwrite(document.framework.slug, origin="custom", source=source)
    report.frameworks.append(framework_load(document=document, position=100, force=True, origin="custom"))
    return report


def _refuse_overwrite(slug: str, *, origin: str, source: str) -> None:
    existing = Framework.objects.filter(slug=slug).values_list("origin", flat=True).first()
    if existing is not None and existing != origin:
        raise LibraryError(
            source, f"the library already has a framework '{slug}' from another source; import it under another slug"
        )


def control_refresh_search(*, control: Control) -> None:
    """After an edit in admin: recompute the control's search words and its full-text index entry."""
    from compliance.library_format import ControlSpec, QuestionSpec

    questions = tuple(QuestionSpec(key=q.key, text=q.text) for q in control.questions.all())
    spec = ControlSpec(
        ref=control.ref,
        group="",
        title=control.title,
        description=control.description,
        guidance=control.guidance,
        questions=questions,
        evidence=tuple(control.typical_evidence),
        weight=control.weight,
        applies_if=(),
        auto_fail=control.auto_fail,
        assessable=control.assessable,
    )
    Control.objects.filter(pk=control.pk).update(search_text=_search_text(spec))
    search.index_framework(control.framework)
