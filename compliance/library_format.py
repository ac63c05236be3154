"""Reading and checking library files in our own format (`greenlight-library/1`, see library/FORMAT.md).

Parsing is separate from loading: a file is checked whole before anything touches the database, and
every problem names the file and the ref it is about.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compliance.models import GroupKind, Relationship
from compliance.profile_facts import PROFILE_FACTS

FORMAT = "greenlight-library/1"
LIBRARY_DIR = Path(__file__).resolve().parent / "library"


class LibraryError(ValueError):
    def __init__(self, source: str, message: str, ref: str | None = None) -> None:
        self.source, self.ref = source, ref
        where = f"{source}, {ref}" if ref else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class QuestionSpec:
    key: str
    text: str
    help_text: str = ""


@dataclass(frozen=True)
class GroupSpec:
    ref: str
    kind: str
    title: str
    parent: str | None
    description: str = ""


@dataclass(frozen=True)
class ControlSpec:
    ref: str
    group: str
    title: str
    description: str
    guidance: str
    questions: tuple[QuestionSpec, ...]
    evidence: tuple[str, ...]
    weight: int
    applies_if: tuple[str, ...]
    auto_fail: bool
    assessable: bool
    urn: str = ""


@dataclass(frozen=True)
class FrameworkSpec:
    slug: str
    name: str
    version: str
    publisher: str
    jurisdiction: str
    description: str
    version_label: str = ""
    effective_date: datetime.date | None = None
    source_url: str = ""
    licence_note: str = ""
    urn: str = ""


@dataclass
class FrameworkDocument:
    source: str
    framework: FrameworkSpec
    groups: list[GroupSpec] = field(default_factory=list)
    controls: list[ControlSpec] = field(default_factory=list)
    content_hash: str = ""


@dataclass(frozen=True)
class MappingSpec:
    source: tuple[str, str]  # (framework slug, control ref)
    target: tuple[str, str]
    relationship: str
    rationale: str


def read_yaml(path: Path) -> tuple[Any, str]:
    raw = path.read_bytes()
    return read_yaml_bytes(raw, source=path.name), hashlib.sha256(raw).hexdigest()


# libyaml's C parser when the wheel has it: several times faster on the bundled library.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml_bytes(raw: bytes, *, source: str) -> Any:
    try:
        return yaml.load(raw, Loader=SafeLoader)  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as error:
        raise LibraryError(source, f"not valid YAML ({error})") from error


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _require(mapping: dict[str, Any], key: str, source: str, ref: str | None = None) -> str:
    value = _text(mapping.get(key))
    if not value:
        raise LibraryError(source, f"'{key}' is required", ref)
    return value


def _date(value: Any, source: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise LibraryError(source, f"effective_date {value!r} is not a date (YYYY-MM-DD)") from error


def parse_framework(data: Any, *, source: str, content_hash: str = "") -> FrameworkDocument:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LibraryError(source, f"not a Greenlight library file (expected 'format: {FORMAT}')")
    raw_framework = data.get("framework")
    if not isinstance(raw_framework, dict):
        raise LibraryError(source, "'framework' section is missing")
    framework = FrameworkSpec(
        slug=_require(raw_framework, "slug", source),
        name=_require(raw_framework, "name", source),
        version=_require(raw_framework, "version", source),
        publisher=_require(raw_framework, "publisher", source),
        jurisdiction=_require(raw_framework, "jurisdiction", source),
        description=_require(raw_framework, "description", source),
        version_label=_text(raw_framework.get("version_label")),
        effective_date=_date(raw_framework.get("effective_date"), source),
        source_url=_text(raw_framework.get("source_url")),
        licence_note=_text(raw_framework.get("licence_note")),
    )
    document = FrameworkDocument(source=source, framework=framework, content_hash=content_hash)

    group_refs: set[str] = set()
    for raw in data.get("groups") or []:
        ref = _require(raw, "ref", source)
        if ref in group_refs:
            raise LibraryError(source, "group ref appears twice", ref)
        parent = _text(raw.get("parent")) or None
        if parent is not None and parent not in group_refs:
            raise LibraryError(source, f"parent group '{parent}' is unknown (parents come before children)", ref)
        kind = _text(raw.get("kind"))
        if kind not in GroupKind.values:
            raise LibraryError(source, f"group kind '{kind}' is not one of {', '.join(GroupKind.values)}", ref)
        group_refs.add(ref)
        document.groups.append(
            GroupSpec(
                ref=ref,
                kind=kind,
                title=_require(raw, "title", source, ref),
                parent=parent,
                description=_text(raw.get("description")),
            )
        )
    if not document.groups:
        raise LibraryError(source, "a framework needs at least one group")

    control_refs: set[str] = set()
    for raw in data.get("controls") or []:
        ref = _require(raw, "ref", source)
        if ref in control_refs:
            raise LibraryError(source, "control ref appears twice", ref)
        control_refs.add(ref)
        document.controls.append(_parse_control(raw, ref=ref, groups=group_refs, source=source))
    if not document.controls:
        raise LibraryError(source, "a framework needs at least one control")
    return document


def _parse_control(raw: dict[str, Any], *, ref: str, groups: set[str], source: str) -> ControlSpec:
    group = _require(raw, "group", source, ref)
    if group not in groups:
        raise LibraryError(source, f"group '{group}' is unknown", ref)
    questions: list[QuestionSpec] = []
    for position, item in enumerate(raw.get("questions") or [], start=1):
        key = _text(item.get("key")) or f"q{position}"
        if any(question.key == key for question in questions):
            raise LibraryError(source, f"question key '{key}' appears twice", ref)
        questions.append(
            QuestionSpec(key=key, text=_require(item, "text", source, ref), help_text=_text(item.get("help")))
        )
    weight = raw.get("weight", 3)
    if not isinstance(weight, int) or not 1 <= weight <= 5:
        raise LibraryError(source, f"weight must be a whole number from 1 to 5, not {weight!r}", ref)
    facts = tuple(_text(fact) for fact in raw.get("applies_if") or [])
    unknown = [fact for fact in facts if fact not in PROFILE_FACTS]
    if unknown:
        raise LibraryError(source, f"unknown profile fact(s) in applies_if: {', '.join(unknown)}", ref)
    assessable = bool(raw.get("assessable", True))
    evidence = tuple(_text(item) for item in raw.get("evidence") or [] if _text(item))
    if assessable and not questions:
        raise LibraryError(source, "an assessable control needs at least one question", ref)
    return ControlSpec(
        ref=ref,
        group=group,
        title=_require(raw, "title", source, ref),
        description=_require(raw, "description", source, ref),
        guidance=_text(raw.get("guidance")),
        questions=tuple(questions),
        evidence=evidence,
        weight=weight,
        applies_if=facts,
        auto_fail=bool(raw.get("auto_fail", False)),
        assessable=assessable,
    )


def _control_key(value: Any, source: str) -> tuple[str, str]:
    text = _text(value)
    slug, sep, ref = text.partition(":")
    if not sep or not slug or not ref:
        raise LibraryError(source, f"mapping end '{text}' must look like 'framework-slug:control-ref'")
    return slug, ref


def parse_mappings(data: Any, *, source: str) -> list[MappingSpec]:
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("mappings"), list):
        raise LibraryError(source, f"not a Greenlight mapping file (expected 'format: {FORMAT}' and 'mappings')")
    mappings: list[MappingSpec] = []
    seen: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    for raw in data["mappings"]:
        mapping_source = _control_key(raw.get("source"), source)
        target = _control_key(raw.get("target"), source)
        where = f"{':'.join(mapping_source)} -> {':'.join(target)}"
        relationship = _text(raw.get("relationship"))
        if relationship not in Relationship.values:
            raise LibraryError(
                source, f"relationship '{relationship}' is not one of {', '.join(Relationship.values)}", where
            )
        if (mapping_source, target) in seen:
            raise LibraryError(source, "mapping appears twice", where)
        seen.add((mapping_source, target))
        mappings.append(
            MappingSpec(
                source=mapping_source, target=target, relationship=relationship, rationale=_text(raw.get("rationale"))
            )
        )
    return mappings
