"""Reading and checking the policy templates (`greenlight-policy/1`, see library/FORMAT.md).

A template is checked whole before anything uses it, and every problem names the file and the
section it is about. Templates ship with the code, so they are read once per process and read again
only when a file changes (cheap to notice: one directory listing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from compliance.profile_facts import PROFILE_FACTS

FORMAT = "greenlight-policy/1"
LIBRARY_DIR = Path(__file__).resolve().parent / "library"
COMPLIANCE_LIBRARY_DIR = Path(__file__).resolve().parent.parent / "compliance" / "library"
DEFAULT_REVIEW_MONTHS = 12

# The placeholder vocabulary of FORMAT.md: tailoring fills every one of these, and nothing else may appear.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "organisation_name",
        "company_number_clause",
        "sector",
        "employee_count",
        "productivity_suite",
        "cloud_providers",
        "data_types",
        "customer_locations",
        "frameworks",
        "policy_owner",
        "security_lead",
        "dpo_or_lead",
        "review_months",
        "effective_date",
        "ico_registration_clause",
        "card_handling_clause",
    }
)

# `{{` and `}}` are literal braces; `{name}` is a placeholder. Anything else with a brace is a mistake.
TOKEN = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")
TEMPLATE_KEYS = {"format", "key", "title", "summary", "review_months", "controls", "applies_if", "sections"}
SECTION_KEYS = {"key", "title", "body", "rewrite", "when"}
WHEN_KEYS = {"facts", "not_facts", "frameworks"}
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class PolicyLibraryError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Condition:
    """When a section is included: every fact holds, no "not" fact holds, and one framework is adopted."""

    facts: tuple[str, ...] = ()
    not_facts: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()

    def holds(self, facts: dict[str, bool], framework_slugs: frozenset[str] | set[str]) -> bool:
        # A fact the profile has not answered counts as false: a policy says only what the business told us.
        if not all(facts.get(fact, False) for fact in self.facts):
            return False
        if any(facts.get(fact, False) for fact in self.not_facts):
            return False
        return not self.frameworks or any(slug in framework_slugs for slug in self.frameworks)


@dataclass(frozen=True)
class SectionTemplate:
    key: str
    title: str
    body: str
    rewrite: bool
    when: Condition

    @property
    def placeholders(self) -> tuple[str, ...]:
        return placeholders_in(self.title) + placeholders_in(self.body)


@dataclass(frozen=True)
class PolicyTemplate:
    key: str
    title: str
    summary: str
    review_months: int
    controls: tuple[str, ...]  # "framework-slug:control-ref"
    applies_if: tuple[str, ...]
    sections: tuple[SectionTemplate, ...]
    source: str = ""

    def applies_to(self, facts: dict[str, bool]) -> bool:
        """Offered when every fact it needs holds; with no profile yet, every template is offered."""
        if not facts:
            return True
        return all(facts.get(fact, False) for fact in self.applies_if)

    def unmet_facts(self, facts: dict[str, bool]) -> list[str]:
        return [fact for fact in self.applies_if if facts and not facts.get(fact, False)]

    def section(self, key: str) -> SectionTemplate | None:
        return next((section for section in self.sections if section.key == key), None)

    @property
    def control_keys(self) -> list[tuple[str, str]]:
        return [(slug, ref) for slug, _, ref in (entry.partition(":") for entry in self.controls)]


def placeholders_in(text: str) -> tuple[str, ...]:
    return tuple(match.group(1) for match in TOKEN.finditer(text) if match.group(1))


def _brace_problem(text: str) -> str | None:
    """Unknown placeholders are reported separately; here, braces that are neither escapes nor placeholders."""
    stripped = TOKEN.sub("", text)
    if "{" in stripped or "}" in stripped:
        return "has a stray brace (write a literal brace as {{ or }})"
    return None


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


@cache
def known_controls() -> frozenset[str]:
    """Every "framework-slug:ref" in our compliance library files, so templates cannot cite a control
    that does not exist."""
    found: set[str] = set()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(COMPLIANCE_LIBRARY_DIR.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
        slug = (data.get("framework") or {}).get("slug", "")
        found.update(f"{slug}:{control.get('ref')}" for control in data.get("controls") or [])
    return frozenset(found)


def known_framework_slugs() -> frozenset[str]:
    return frozenset(entry.partition(":")[0] for entry in known_controls())


def parse_template(
    data: Any, *, source: str, expected_key: str | None = None, controls: frozenset[str] | None = None
) -> PolicyTemplate:
    """Check one template whole; raise PolicyLibraryError listing every problem found."""
    problems: list[str] = []

    def problem(message: str, section: str | None = None) -> None:
        where = f"{source}, section {section}" if section else source
        problems.append(f"{where}: {message}")

    if not isinstance(data, dict):
        raise PolicyLibraryError([f"{source}: is not a YAML mapping"])
    if data.get("format") != FORMAT:
        problem(f"format must be {FORMAT!r}")
    for unknown in sorted(set(data) - TEMPLATE_KEYS):
        problem(f"unknown key {unknown!r}")
    key = data.get("key")
    if not isinstance(key, str) or not SLUG.match(key):
        problem("key must be lower-case words joined by hyphens")
        key = str(key)
    elif expected_key is not None and key != expected_key:
        problem(f"key {key!r} must match the file name {expected_key!r}")
    title, summary = data.get("title"), data.get("summary")
    for name, value in (("title", title), ("summary", summary)):
        if not isinstance(value, str) or not value.strip():
            problem(f"{name} is required")
    review_months = data.get("review_months", DEFAULT_REVIEW_MONTHS)
    if not isinstance(review_months, int) or isinstance(review_months, bool) or not 1 <= review_months <= 36:
        problem("review_months must be a whole number of months from 1 to 36")
        review_months = DEFAULT_REVIEW_MONTHS

    control_list = _strings(data.get("controls"))
    if control_list is None:
        problem("controls must be a list of framework-slug:ref strings")
        control_list = []
    known = controls if controls is not None else known_controls()
    for entry in control_list:
        if entry not in known:
            problem(f"control {entry!r} is not in the framework library")
    if len(set(control_list)) != len(control_list):
        problem("controls lists a control twice")

    applies_if = _strings(data.get("applies_if"))
    if applies_if is None:
        problem("applies_if must be a list of profile facts")
        applies_if = []
    for fact in applies_if:
        if fact not in PROFILE_FACTS:
            problem(f"applies_if names unknown profile fact {fact!r}")

    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        problem("sections must be a non-empty list")
        raw_sections = []
    sections: list[SectionTemplate] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_sections, start=1):
        if not isinstance(raw, dict):
            problem(f"section {index} is not a mapping")
            continue
        section_key = raw.get("key")
        label = str(section_key or index)
        if not isinstance(section_key, str) or not SLUG.match(section_key):
            problem("key must be lower-case words joined by hyphens", label)
        elif section_key in seen:
            problem("key is used twice", label)
        seen.add(str(section_key))
        for unknown in sorted(set(raw) - SECTION_KEYS):
            problem(f"unknown key {unknown!r}", label)
        section_title, body = raw.get("title"), raw.get("body")
        if not isinstance(section_title, str) or not section_title.strip():
            problem("title is required", label)
            section_title = ""
        if not isinstance(body, str) or not body.strip():
            problem("body is required", label)
            body = ""
        rewrite = raw.get("rewrite", False)
        if not isinstance(rewrite, bool):
            problem("rewrite must be true or false", label)
            rewrite = False
        for text in (section_title, body):
            for name in placeholders_in(text):
                if name not in PLACEHOLDERS:
                    problem(f"unknown placeholder {{{name}}}", label)
            if message := _brace_problem(text):
                problem(message, label)
        when = _parse_condition(raw.get("when"), label, problem)
        sections.append(
            SectionTemplate(key=str(section_key), title=section_title, body=body, rewrite=rewrite, when=when)
        )

    if problems:
        raise PolicyLibraryError(problems)
    return PolicyTemplate(
        key=key,
        title=str(title).strip(),
        summary=" ".join(str(summary).split()),
        review_months=review_months,
        controls=tuple(control_list),
        applies_if=tuple(applies_if),
        sections=tuple(sections),
        source=source,
    )


def _parse_condition(raw: Any, label: str, problem: Any) -> Condition:
    if raw is None:
        return Condition()
    if not isinstance(raw, dict):
        problem("when must be a mapping of facts, not_facts and frameworks", label)
        return Condition()
    for unknown in sorted(set(raw) - WHEN_KEYS):
        problem(f"when has unknown key {unknown!r}", label)
    lists: dict[str, list[str]] = {}
    for name in WHEN_KEYS:
        values = _strings(raw.get(name))
        if values is None:
            problem(f"when.{name} must be a list", label)
            values = []
        lists[name] = values
    for fact in lists["facts"] + lists["not_facts"]:
        if fact not in PROFILE_FACTS:
            problem(f"when names unknown profile fact {fact!r}", label)
    slugs = known_framework_slugs()
    for slug in lists["frameworks"]:
        if slug not in slugs:
            problem(f"when names unknown framework {slug!r}", label)
    return Condition(
        facts=tuple(lists["facts"]), not_facts=tuple(lists["not_facts"]), frameworks=tuple(lists["frameworks"])
    )


def read_template(path: Path) -> PolicyTemplate:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise PolicyLibraryError([f"{path.name}: is not valid YAML ({error})"]) from None
    return parse_template(data, source=path.name, expected_key=path.stem)


def library_dir() -> Path:
    return Path(getattr(settings, "POLICY_LIBRARY_DIR", None) or LIBRARY_DIR)


def load_library(directory: Path | None = None) -> dict[str, PolicyTemplate]:
    """Every template in the directory, by key, in title order. Raises PolicyLibraryError listing
    the problems of every broken file."""
    directory = Path(directory or library_dir()).resolve()
    stamp = tuple((path.name, path.stat().st_mtime_ns) for path in sorted(directory.glob("*.yaml")))
    return _load(str(directory), stamp)


@cache
def _load(directory: str, stamp: tuple[tuple[str, int], ...]) -> dict[str, PolicyTemplate]:
    templates: list[PolicyTemplate] = []
    problems: list[str] = []
    for name, _mtime in stamp:
        try:
            templates.append(read_template(Path(directory) / name))
        except PolicyLibraryError as error:
            problems.extend(error.problems)
    if problems:
        raise PolicyLibraryError(problems)
    return {template.key: template for template in sorted(templates, key=lambda t: t.title)}


def get_template(key: str) -> PolicyTemplate | None:
    return load_library().get(key) if key else None
