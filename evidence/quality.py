"""Evidence quality: the one place the score is computed and explained. Pure functions, no database.

Quality is about the evidence itself — is it complete, fresh, relevant and verifiable? — never about the
security posture it shows. A well-documented screenshot of a weak setting is good evidence.

    quality = completeness (30) + freshness (30) + relevance (20) + verifiability (20), from 0 to 100

Completeness, 30: a meaningful title 5 (at least 8 characters and not just a file name such as
"IMG_0042.png" or "Screenshot 2026-11-21 at 10.42.13"), a description of at least 40 characters 10, an
owner 5, a collected date 5, a valid-until date 5.

Freshness, 30: each evidence type stays fresh for a period (evidence/kinds.py, e.g. 90 days for a
screenshot). Full marks while the item's age is within the first half of that period, then falling in a
straight line to 0 at the end of the period or at the valid-until date, whichever comes first:

    freshness = 30 × (end - age) ÷ (end - period/2), capped to 0..30

with ages in days from the collected date and `end` the age at which it stops being fresh. When a
valid-until date falls inside the first half of the period, the fall starts half-way to that date instead.
0 once past the valid-until date, and 0 without a collected date (its age is unknown).

Relevance, 20: 0 when not mapped to any control; otherwise 20 × (mapped controls that apply in the
organisation's adopted frameworks) ÷ (all mapped controls), at least 5 for being mapped at all.

Verifiability, 20, by how hard the item would be to fake or misread: collected automatically from a
connected service 20; a digitally signed document 16; a configuration or log export, a PDF or an office
document 12; a screenshot, image or other file 8; a link 6 (what it points to can change); a written note 3.

Each part is rounded to whole points, halves up. Bands: strong from 75, fair from 50, weak below.

The weights are the suggested ones: freshness weighs as much as completeness because auditors reject stale
evidence outright, and relevance and verifiability weigh less because they are partly outside the
organisation's control (some evidence can only ever be a note or a screenshot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from math import floor
from typing import NamedTuple

from config.formatting import long_date
from evidence.kinds import EvidenceType, default_valid_until, freshness_days

COMPLETENESS, FRESHNESS, RELEVANCE, VERIFIABILITY = "completeness", "freshness", "relevance", "verifiability"
STRONG_FROM, FAIR_FROM = 75, 50

TITLE_POINTS, DESCRIPTION_POINTS, OWNER_POINTS, COLLECTED_POINTS, VALID_UNTIL_POINTS = 5, 10, 5, 5, 5
COMPLETENESS_OUT_OF = TITLE_POINTS + DESCRIPTION_POINTS + OWNER_POINTS + COLLECTED_POINTS + VALID_UNTIL_POINTS
FRESHNESS_OUT_OF = 30
RELEVANCE_OUT_OF, RELEVANCE_FLOOR = 20, 5
AUTOMATED, SIGNED, DOCUMENT, IMAGE, LINK, NOTE = 20, 16, 12, 8, 6, 3
VERIFIABILITY_OUT_OF = AUTOMATED
AUTOMATE = "Collect it automatically through a Google Workspace or Microsoft 365 connection"
SIGN = ("Attach a digitally signed copy", SIGNED)

MIN_TITLE_LENGTH, MIN_DESCRIPTION_LENGTH = 8, 40

MANUAL = "manual"
SOURCE_NAMES = {"google_workspace": "Google Workspace", "microsoft_365": "Microsoft 365"}
FORMS = ("file", "link", "note")
# File kinds as evidence/intake detects them.
IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "webp"})
DOCUMENT_KINDS = frozenset({"pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp"})
EXPORT_KINDS = frozenset({"text", "csv", "json"})
EXPORT_TYPES = frozenset({EvidenceType.CONFIGURATION, EvidenceType.LOG})

# fmt: off
# A title ending in one of these reads as the name of the uploaded file rather than a description of it.
FILE_EXTENSIONS = frozenset({
    "pdf", "png", "jpg", "jpeg", "gif", "webp", "heic", "bmp", "tif", "tiff", "svg", "doc", "docx", "odt", "rtf",
    "txt", "md", "xls", "xlsx", "ods", "csv", "ppt", "pptx", "odp", "json", "xml", "yaml", "yml", "log", "zip",
    "eml", "msg", "htm", "html",
})
# Words that cameras, scanners and operating systems put in default file names; a title made only of
# these (and numbers) says nothing about what the evidence shows.
DEVICE_WORDS = frozenset({
    "img", "image", "dsc", "dscn", "dscf", "pxl", "mvimg", "photo", "pic", "picture", "scan", "scanned",
    "screenshot", "screen", "shot", "capture", "untitled", "document", "doc", "file", "new", "copy", "of", "at",
    "am", "pm", "final", "draft", "v",
})
# fmt: on
EXTENSION = re.compile(r"\.([A-Za-z0-9]{2,5})$")
LETTER_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class QualityFacts:
    title: str
    description: str
    evidence_type: str
    source: str  # "manual" | "google_workspace" | "microsoft_365" (anything but manual counts as automated)
    form: str  # "file" | "link" | "note"
    file_kind: str | None  # kind detected at intake ("pdf", "png", ...); None for a link or note
    signed: bool  # a digitally signed document
    has_owner: bool
    collected_on: date | None
    valid_until: date | None
    mapped_controls: int  # controls the item is mapped to
    mapped_in_scope: int  # of those, controls in the organisation's adopted frameworks that apply
    today: date

    def __post_init__(self) -> None:
        # Impossible facts would give a confident but meaningless score: fail loudly instead.
        freshness_days(self.evidence_type)
        if self.form not in FORMS:
            raise ValueError(f"Unknown evidence form {self.form!r}; expected one of {', '.join(FORMS)}.")
        if not self.source:
            raise ValueError("Evidence source is empty.")
        if not 0 <= self.mapped_in_scope <= self.mapped_controls:
            raise ValueError(
                f"Mapped controls in scope ({self.mapped_in_scope}) must be between 0 and "
                f"the mapped controls ({self.mapped_controls})."
            )


@dataclass(frozen=True)
class QualityPart:
    key: str  # COMPLETENESS | FRESHNESS | RELEVANCE | VERIFIABILITY
    label: str
    points: int
    out_of: int
    explanation: str  # what was counted, in plain English
    to_raise: str  # the concrete action and the points it would add; "" when full
    gain: int  # the points `to_raise` would add; 0 when full


@dataclass(frozen=True)
class Quality:
    score: int  # 0..100, the sum of the parts' points
    band: str  # "strong" | "fair" | "weak"
    parts: tuple[QualityPart, ...]

    @property
    def suggestions(self) -> list[str]:
        """The parts' ways to raise the score, biggest gain first."""
        ranked = sorted((part for part in self.parts if part.to_raise), key=lambda part: -part.gain)
        return [part.to_raise for part in ranked]

    def part(self, key: str) -> QualityPart:
        return next(part for part in self.parts if part.key == key)


def quality_of(facts: QualityFacts) -> Quality:
    parts = (completeness(facts), freshness(facts), relevance(facts), verifiability(facts))
    score = sum(part.points for part in parts)
    return Quality(score=score, band=band_for(score), parts=parts)


def band_for(score: int) -> str:
    if score >= STRONG_FROM:
        return "strong"
    if score >= FAIR_FROM:
        return "fair"
    return "weak"


# Completeness


class _Item(NamedTuple):
    present: bool
    points: int
    has: str  # how the explanation names it when present
    lacks: str  # ... and when missing
    action: str  # how to add it


def completeness(facts: QualityFacts) -> QualityPart:
    description = f"a description of at least {MIN_DESCRIPTION_LENGTH} characters"
    items = [
        _Item(is_meaningful_title(facts.title), TITLE_POINTS, "a meaningful title", "a meaningful title",
              "Give it a title that says what it shows, not a file name"),
        _Item(len(" ".join(facts.description.split())) >= MIN_DESCRIPTION_LENGTH, DESCRIPTION_POINTS,
              "a description", description, f"Describe what it shows in at least {MIN_DESCRIPTION_LENGTH} characters"),
        _Item(facts.has_owner, OWNER_POINTS, "an owner", "an owner", "Name an owner"),
        _Item(facts.collected_on is not None, COLLECTED_POINTS, "a collected date", "a collected date",
              "Record the date it was collected"),
        _Item(facts.valid_until is not None, VALID_UNTIL_POINTS, "a valid-until date", "a valid-until date",
              valid_until_action(facts)),
    ]  # fmt: skip
    present = [item for item in items if item.present]
    missing = sorted((item for item in items if not item.present), key=lambda item: -item.points)
    sentences = []
    if present:
        sentences.append(f"Has {joined([item.has for item in present])}.")
    if missing:
        sentences.append(f"Missing {joined([item.lacks for item in items if not item.present])}.")
    return make_part(
        COMPLETENESS,
        "Complete",
        sum(item.points for item in present),
        COMPLETENESS_OUT_OF,
        " ".join(sentences),
        " ".join(f"{item.action} (+{item.points})." for item in missing),
    )


def valid_until_action(facts: QualityFacts) -> str:
    if facts.collected_on is None:
        return "Set a valid-until date"
    suggested = default_valid_until(facts.evidence_type, facts.collected_on)
    return f"Set a valid-until date, such as {long_date(suggested)}"


def is_meaningful_title(title: str) -> bool:
    """At least 8 characters and more than a file name or a camera's or scanner's default name."""
    title = " ".join(title.split())
    if len(title) < MIN_TITLE_LENGTH:
        return False
    extension = EXTENSION.search(title)
    if extension and extension.group(1).lower() in FILE_EXTENSIONS:
        return False
    words = {word.lower() for word in LETTER_WORD.findall(title)}
    return bool(words - DEVICE_WORDS)


# Freshness


def freshness(facts: QualityFacts) -> QualityPart:
    period = freshness_days(facts.evidence_type)
    collected, valid_until, today = facts.collected_on, facts.valid_until, facts.today
    if valid_until is not None and today > valid_until:
        explanation = f"Past its valid-until date of {long_date(valid_until)}."
        return _freshness_part(0, explanation, replace_action(FRESHNESS_OUT_OF))
    if collected is None:
        action = ("Record the date it was collected (up to +30).", FRESHNESS_OUT_OF)
        return _freshness_part(0, "No collected date, so its age is unknown.", action)
    points = freshness_points(age=(today - collected).days, period=period, valid_for=_days(collected, valid_until))
    fresh_until = collected + timedelta(days=period)
    if valid_until is not None and valid_until < fresh_until:
        ends = f"It is valid until {long_date(valid_until)}."
    else:
        kind = EvidenceType(facts.evidence_type).label
        state = "is fresh until" if today < fresh_until else "went stale on"
        ends = f"{kind} evidence stays fresh for {period} days, so this {state} {long_date(fresh_until)}."
    explanation = f"Collected on {long_date(collected)}, {_ago(today, collected)}. {ends}"
    return _freshness_part(points, explanation, replace_action(FRESHNESS_OUT_OF - points))


def freshness_points(*, age: int, period: int, valid_for: int | None) -> int:
    """Full for the first half of the period, then a straight line to 0 at the period's end or validity's end."""
    age = max(age, 0)  # a collected date in the future counts as collected today
    end = Fraction(period if valid_for is None else min(period, valid_for))
    if end <= 0 or age >= end:
        return 0
    start = Fraction(period, 2)
    if start >= end:
        start = end / 2
    if age <= start:
        return FRESHNESS_OUT_OF
    return round_half_up(FRESHNESS_OUT_OF * (end - age) / (end - start))


def replace_action(gain: int) -> tuple[str, int]:
    if gain == 0:
        return "", 0
    return f"Collect a current version to replace it (+{gain}).", gain


def _freshness_part(points: int, explanation: str, action: tuple[str, int]) -> QualityPart:
    to_raise, gain = action
    return QualityPart(FRESHNESS, "Fresh", points, FRESHNESS_OUT_OF, explanation, to_raise, gain)


def _days(start: date, end: date | None) -> int | None:
    return None if end is None else (end - start).days


def _ago(today: date, then: date) -> str:
    days = (today - then).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


# Relevance


def relevance(facts: QualityFacts) -> QualityPart:
    mapped, in_scope = facts.mapped_controls, facts.mapped_in_scope
    if mapped == 0:
        return make_part(
            RELEVANCE,
            "Relevant",
            0,
            RELEVANCE_OUT_OF,
            "Not mapped to any control.",
            f"Map it to the controls it supports in your frameworks (+{RELEVANCE_OUT_OF}).",
        )
    points = max(RELEVANCE_FLOOR, round_half_up(Fraction(RELEVANCE_OUT_OF * in_scope, mapped)))
    outside = mapped - in_scope
    if mapped == 1:
        scope = "in your adopted frameworks" if in_scope else "outside your adopted frameworks"
    elif outside == 0:
        scope = "all of them in your adopted frameworks"
    else:
        scope = f"{'none' if in_scope == 0 else in_scope} of them in your adopted frameworks"
    explanation = f"Mapped to {plural(mapped, 'control')}, {scope}."
    remove = f"remove the {plural(outside, 'mapping')} to controls outside your adopted frameworks"
    if outside == 0:
        to_raise = ""
    elif in_scope == 0:
        to_raise = f"Map it to a control in your adopted frameworks and {remove}"
    else:
        to_raise = remove[0].upper() + remove[1:]
    if to_raise:
        to_raise += f" (+{RELEVANCE_OUT_OF - points})."
    return make_part(RELEVANCE, "Relevant", points, RELEVANCE_OUT_OF, explanation, to_raise)


# Verifiability


def verifiability(facts: QualityFacts) -> QualityPart:
    points, explanation, (action, reaches) = _verifiable(facts)
    gain = reaches - points if action else 0
    to_raise = f"{action} (+{gain})." if action else ""
    return QualityPart(VERIFIABILITY, "Verifiable", points, VERIFIABILITY_OUT_OF, explanation, to_raise, gain)


def _verifiable(facts: QualityFacts) -> tuple[int, str, tuple[str, int]]:
    """Points, what was counted, and the next step up with the points it reaches."""
    attach = "Attach the document or an export"
    if facts.source != MANUAL:
        name = SOURCE_NAMES.get(facts.source, facts.source.replace("_", " "))
        return AUTOMATED, f"Collected automatically from {name}.", ("", AUTOMATED)
    if facts.signed:
        return SIGNED, "A digitally signed document.", (AUTOMATE, AUTOMATED)
    if facts.form == "link":
        return LINK, "A link: what it points to can change or disappear.", (f"{attach} instead of a link", DOCUMENT)
    if facts.form == "note":
        return (
            NOTE,
            "A written note, the hardest kind of evidence to check.",
            (f"{attach} instead of a note", DOCUMENT),
        )
    kind = facts.file_kind
    if kind in IMAGE_KINDS:
        return IMAGE, "A screenshot or image.", ("Attach an export or a PDF instead of a picture", DOCUMENT)
    if kind in DOCUMENT_KINDS:
        return DOCUMENT, "A PDF or office document.", SIGN
    if kind in EXPORT_KINDS or facts.evidence_type in EXPORT_TYPES:
        return DOCUMENT, "An exported file.", SIGN
    return IMAGE, "A file that is neither a document nor an export.", (attach, DOCUMENT)


# Shared


def make_part(key: str, label: str, points: int, out_of: int, explanation: str, to_raise: str) -> QualityPart:
    return QualityPart(key, label, points, out_of, explanation, to_raise, out_of - points if to_raise else 0)


def round_half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
